"""The build container's layer helper (templates/layer.py): which new files get bytecode."""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from repograder import sandbox


def _helper(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    path = Path(sandbox.__file__).parent / "templates" / "layer.py"
    spec = importlib.util.spec_from_file_location("rg_layer_helper", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its process pool pickles functions by module name.
    monkeypatch.setitem(sys.modules, "rg_layer_helper", module)
    spec.loader.exec_module(module)
    return module


def test_new_distributions_are_compiled_except_their_own_test_suites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = _helper(monkeypatch)
    site = tmp_path / "site"
    files = [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/tests/test_core.py",  # the package's test suite: never imported by students
        "pkg/sub/test/helpers.py",
        "pkg/testing.py",  # a public module named like a test: compiled
        "old/__init__.py",  # a distribution the parent layer already had: not recompiled
    ]
    for rel in files:
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("X = 1\n")
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(site)})
    installed = {
        "pkg": ("1.0", SimpleNamespace(files=[f for f in files if f.startswith("pkg/")])),
        "old": ("2.0", SimpleNamespace(files=["old/__init__.py"])),
    }

    helper.compile_new({"old==2.0"}, installed)

    compiled = {
        p.parent.parent.relative_to(site).as_posix() + "/" + p.name.split(".")[0]
        for p in site.rglob("*.pyc")
    }
    assert compiled == {"pkg/__init__", "pkg/core", "pkg/testing"}
