"""Version constraints (no I/O): Poetry's ``^``/``~`` constraints as pip specifiers, and the
sandbox's Python chosen from the constraints a project states.

Every function accepts arbitrary (student) input and never raises. :mod:`repograder.envparse`
re-exports these for :mod:`repograder.detect`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# --- poetry ------------------------------------------------------------------------------------


def _bump(parts: list[int], index: int) -> str:
    bumped = parts[: index + 1]
    bumped[index] += 1
    bumped += [0] * (len(parts) - index - 1)
    return ".".join(str(p) for p in bumped)


def poetry_constraint_to_pip(constraint: str) -> tuple[str, str | None]:
    """Poetry version constraint (``^1.2``, ``~1.2``, ``>=1,<2``, ``*``) -> (pip spec, warning)."""
    text = constraint.strip()
    if not text or text == "*":
        return "", None
    if "||" in text:
        return "", f"alternative versions {text!r} cannot be expressed for pip; unpinned"
    out: list[str] = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text):
        part = raw.strip()
        if not part:
            continue
        match = re.match(r"^(\^|~(?!=)|~=|==|>=|<=|!=|>|<|=)?\s*(\d+(?:\.\d+)*)(\.\*)?$", part)
        if not match:
            return "", f"version constraint {text!r} not understood; unpinned"
        op, version, star = match.group(1) or "", match.group(2), match.group(3) or ""
        numbers = [int(n) for n in version.split(".")][:6]
        if op == "^":
            first_nonzero = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
            out.append(f">={version},<{_bump(numbers, first_nonzero)}")
        elif op == "~":
            index = 1 if len(numbers) >= 2 else 0
            out.append(f">={version},<{_bump(numbers, index)}")
        elif op in {"", "=", "=="}:
            out.append(f"=={version}{star}")
        else:
            out.append(f"{op}{version}{star}")
    return ",".join(out), None


# --- Python version ------------------------------------------------------------------------------

_CLAUSE_RE = re.compile(r"^(==|>=|<=|!=|~=|>|<|=|\^|~)?\s*v?(\d+(?:\.\d+){0,2})(\.\*)?$")


def _clause_ok(op: str, version: tuple[int, ...], star: bool, cand: tuple[int, int, int]) -> bool:
    pad = (*version, 0, 0)[:3]
    if star or (op in {"", "="} and len(version) < 3):
        return (
            cand[: len(version)] == version
            if op in {"", "=", "=="}
            else cand[: len(version)] != version
        )
    if op in {"", "=", "=="}:
        return cand == pad
    if op == "!=":
        return cand != pad
    if op == ">=":
        return cand >= pad
    if op == ">":
        return cand > pad
    if op == "<=":
        return cand <= pad
    if op == "<":
        return cand < pad
    if op in {"~=", "~", "^"}:
        if op == "~=":
            prefix_len = max(len(version) - 1, 1)
        elif op == "~":
            prefix_len = min(len(version), 2)
        else:
            prefix_len = next((i + 1 for i, n in enumerate(version) if n != 0), len(version))
        return cand >= pad and cand[:prefix_len] == version[:prefix_len]
    return False


def choose_python(
    spec_string: str | None, available: Sequence[str], default: str
) -> tuple[str, str | None]:
    """Pick a concrete ``X.Y`` from ``available`` for a requested version or range.

    Returns (version, note); the note explains any deviation from the request.
    """
    if not spec_string or not str(spec_string).strip():
        return default, None
    text = str(spec_string).strip()
    minors: list[tuple[int, int]] = []
    for item in available:
        match = re.match(r"^(\d+)\.(\d+)", str(item))
        if match:
            minors.append((int(match.group(1)), int(match.group(2))))
    if not minors:
        return default, None
    clauses: list[tuple[str, tuple[int, ...], bool]] = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.replace("python", "").strip()):
        if not raw.strip():
            continue
        match = _CLAUSE_RE.match(raw.strip())
        if not match:
            return default, f"Python version {text!r} not understood; using {default}"
        numbers = tuple(int(n) for n in match.group(2).split("."))
        clauses.append((match.group(1) or "", numbers, bool(match.group(3))))
    if not clauses:
        return default, None

    def allowed(minor: tuple[int, int]) -> bool:
        for patch in (*range(0, 31), 99):
            cand = (minor[0], minor[1], patch)
            if all(_clause_ok(op, ver, star, cand) for op, ver, star in clauses):
                return True
        return False

    ok = [m for m in minors if allowed(m)]
    default_match = re.match(r"^(\d+)\.(\d+)", default)
    default_minor = (
        (int(default_match.group(1)), int(default_match.group(2))) if default_match else None
    )
    if default_minor in ok and default_minor is not None:
        return f"{default_minor[0]}.{default_minor[1]}", None
    if ok:
        best = max(ok)
        return f"{best[0]}.{best[1]}", None
    # Nothing satisfies the request: take the available version closest to what was asked for.
    wanted = clauses[0][1]
    target = (wanted[0], wanted[1] if len(wanted) > 1 else 0)
    closest = min(minors, key=lambda m: (abs((m[0] - target[0]) * 100 + m[1] - target[1]), -m[1]))
    version = f"{closest[0]}.{closest[1]}"
    return version, f"Python {text} requested but not available; using {version}"
