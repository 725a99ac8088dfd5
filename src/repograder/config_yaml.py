"""YAML with line numbers for the config files: every mapping key keeps its line, duplicate keys
and aliases are refused, and pydantic errors become ``file:line: key: message``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from repograder.errors import ConfigError

MAX_CONFIG_BYTES = 5_000_000


# ---------------------------------------------------------------- YAML with line numbers


@dataclass(frozen=True)
class _Located:
    """Plain Python data from YAML plus the line of every key path."""

    data: Any
    lines: Mapping[tuple[str | int, ...], int]


def _load_yaml(path: Path) -> _Located:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_CONFIG_BYTES} bytes")
    text = raw.decode("utf-8", errors="replace")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{line} invalid YAML: {problem}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is None:
        return _Located(None, lines)
    return _Located(_convert(node, (), lines, path), lines)


def _convert(
    node: yaml.Node,
    where: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    path: Path,
) -> Any:
    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: {_fmt(where) or 'top level'}: "
                    "keys must be plain names"
                )
            key = str(key_node.value)
            if key in result:
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: {_fmt((*where, key))}: duplicate key"
                )
            result[key] = _convert(value_node, (*where, key), lines, path)
            lines[(*where, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*where, i), lines, path) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    # Resolve only the plain scalar types; timestamps stay strings and are parsed strictly below.
    if node.tag == "tag:yaml.org,2002:null":
        return None
    if node.tag == "tag:yaml.org,2002:bool":
        return node.value.lower() in ("true", "yes", "on", "y")
    if node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return node.value
    if node.tag == "tag:yaml.org,2002:float":
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            return node.value
    return str(node.value)


def _fmt(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _raise_validation(
    path: Path, located: _Located, exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> None:
    messages = []
    for err in exc.errors():
        loc = prefix + tuple(
            p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function")
        )
        line = located.lines.get(tuple(loc))
        probe = tuple(loc)
        while line is None and probe:
            probe = probe[:-1]
            line = located.lines.get(probe)
        where = _fmt(loc) or "top level"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        messages.append(f"{path}:{line or 1}: {where}: {msg}")
    raise ConfigError("\n".join(messages))
