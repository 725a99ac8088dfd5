"""pip's configuration read without starting pip: the same answer as ``pip config list``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repograder.sandbox import hostconfig
from repograder.sandbox.hostconfig import (
    detect_host_settings,
    parse_pip_config,
    pip_settings,
    read_pip_config,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _pip_config_list(env: dict[str, str]) -> dict[str, str]:
    """What pip itself says (``section.key`` -> value; pip prints the values with %r)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    items = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        items[key] = str(ast.literal_eval(value))
    return items


def _base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-home"),
        "XDG_CONFIG_DIRS": f"{tmp_path / 'xdg-a'}:{tmp_path / 'xdg-b'}",
    }


def _scenario(name: str, tmp_path: Path) -> dict[str, str]:
    env = _base_env(tmp_path)
    xdg_a = tmp_path / "xdg-a" / "pip" / "pip.conf"
    xdg_b = tmp_path / "xdg-b" / "pip" / "pip.conf"
    legacy = tmp_path / "home" / ".pip" / "pip.conf"
    user = tmp_path / "xdg-home" / "pip" / "pip.conf"
    if name == "global-user-install":
        _write(xdg_a, "[global]\nindex-url = https://a.example/simple\ntrusted-host = a\n")
        _write(xdg_b, "[global]\nindex_url = https://b.example/simple\n")
        _write(user, "[global]\nfind-links = /u/wheels\n[install]\nindex-url = https://i/simple\n")
    elif name == "legacy-then-new-user":
        _write(legacy, "[global]\nindex-url = https://legacy/simple\ncert = /legacy.crt\n")
        _write(user, "[global]\nindex-url = https://new/simple\n")
    elif name == "config-file-env":
        _write(user, "[global]\nextra-index-url = https://user/simple\n")
        _write(xdg_a, "[global]\nindex-url = https://global/simple\n")
        own = _write(tmp_path / "own.conf", "[global]\nindex-url = https://own/simple\n")
        env["PIP_CONFIG_FILE"] = str(own)
        env["PIP_TRUSTED_HOST"] = "env.example"
        env["PIP_FIND_LINKS"] = "/env/wheels"
    elif name == "config-file-missing":
        _write(user, "[global]\nextra-index-url = https://user/simple\n")
        env["PIP_CONFIG_FILE"] = str(tmp_path / "absent.conf")
    elif name == "devnull":
        _write(user, "[global]\nindex-url = https://user/simple\n")
        env["PIP_CONFIG_FILE"] = os.devnull
        env["PIP_EXTRA_INDEX_URL"] = "https://env/simple"
    return env


@pytest.mark.parametrize(
    "name",
    [
        "global-user-install",
        "legacy-then-new-user",
        "config-file-env",
        "config-file-missing",
        "devnull",
    ],
)
def test_read_pip_config_agrees_with_pip_config_list(tmp_path: Path, name: str) -> None:
    env = _scenario(name, tmp_path)
    ours = read_pip_config(env, sys.prefix)
    pips = _pip_config_list(env)
    assert ours == pips
    # and the settings the grader forwards follow from it alike
    text = "\n".join(f"{key}={value!r}" for key, value in pips.items())
    assert pip_settings(ours) == parse_pip_config(text)


def test_detect_host_settings_does_not_start_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _scenario("global-user-install", tmp_path).items():
        monkeypatch.setenv(key, value)

    def no_process(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pip was started")

    monkeypatch.setattr(hostconfig.subprocess, "run", no_process)
    settings = detect_host_settings()
    assert settings.index_url == "https://b.example/simple"
    assert settings.trusted_hosts == ("a",)


def test_detect_host_settings_follows_a_changed_pip_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(("PIP_", "UV_"))]:
        monkeypatch.delenv(key)
    for key, value in _base_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    conf = _write(
        tmp_path / "xdg-home" / "pip" / "pip.conf", "[global]\nindex-url = https://one/s\n"
    )
    assert detect_host_settings().index_url == "https://one/s"
    conf.write_text("[global]\nindex-url = https://two/s\n")
    assert detect_host_settings().index_url == "https://two/s"
    monkeypatch.setenv("PIP_INDEX_URL", "https://env/s")
    assert detect_host_settings().index_url == "https://env/s"


def test_a_file_we_cannot_parse_leaves_the_answer_to_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(("PIP_", "UV_"))]:
        monkeypatch.delenv(key)
    for key, value in _base_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    _write(tmp_path / "xdg-home" / "pip" / "pip.conf", "index-url = no section\n")
    asked: list[object] = []

    def fake_pip(cmd: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        asked.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "global.index-url='https://pip/s'\n", "")

    monkeypatch.setattr(hostconfig.subprocess, "run", fake_pip)
    assert detect_host_settings().index_url == "https://pip/s"
    assert asked
    assert asked[0][-3:] == ["pip", "config", "list"]
