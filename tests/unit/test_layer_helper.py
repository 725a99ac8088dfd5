"""The build container's layer helper (templates/layer.py): which new files get bytecode."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from repograder import sandbox
from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import buildplan
from repograder.sandbox.hostconfig import HostSettings

HOST = HostSettings()


def _plan(tmp_path: Path) -> buildplan.BuildPlan:
    (tmp_path / "requirements.txt").write_text("six\n")
    spec = EnvSpec(EnvKind.REQUIREMENTS, "requirements.txt", "t", ("requirements.txt",), ("six",))
    return buildplan.make_plan(
        spec, tmp_path, base_image_id="p", python_version="3.11", host=HOST, layered=True
    )


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
    monkeypatch.setattr(helper, "_site", lambda: str(site))
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


def test_root_runs_the_helper_without_any_packages_pth_file(tmp_path: Path) -> None:
    # Root runs SNAPSHOT (and NEWER) on a parent layer's venv in the wheels-only phase: with
    # the site module a package's .pth file there ran as uid 0 with the shared uv cache
    # mounted. Under -S the helper still finds the venv's distributions (named, not via site).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3.*/site-packages"))
    dist = site / "rgdist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rgdist\nVersion: 1.0\n")
    evidence = tmp_path / "pth-ran"
    (site / "rg-evil.pth").write_text(f"import os; open({str(evidence)!r}, 'w').close()\n")
    template = Path(sandbox.__file__).parent / "templates" / "layer.py"
    helper = tmp_path / "layer.py"
    text = template.read_text()
    assert 'VENV = "/opt/venv"\n' in text
    helper.write_text(text.replace('VENV = "/opt/venv"\n', f"VENV = {str(venv)!r}\n"))
    plan_helper = [a for a in buildplan.install_script(_plan(tmp_path), HOST).split() if a]
    flags = plan_helper[plan_helper.index(buildplan.VENV_PYTHON) + 1 :][:2]
    assert flags == ["-I", "-S"]
    out = tmp_path / "snapshot.txt"

    subprocess.run(
        [str(venv / "bin" / "python"), *flags, str(helper), "SNAPSHOT", str(out)], check=True
    )

    assert "rgdist==1.0" in out.read_text().split()
    assert not evidence.exists(), "a package's .pth file ran in the helper"
