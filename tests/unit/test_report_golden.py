"""Golden files: the factory run must always produce exactly these bytes.

Regenerate after an intended change with ``REPOGRADER_REGEN_GOLDEN=1 pytest
tests/unit/test_report_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.report import write_report
from report_factory import make_run

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
FILES = ["results.json", "grades.csv", "summary.md", "junit.xml", "index.html"]
REGEN = os.environ.get("REPOGRADER_REGEN_GOLDEN") == "1"


@pytest.mark.parametrize("name", FILES)
def test_golden(tmp_path: Path, name: str) -> None:
    write_report(make_run(), tmp_path)
    produced = (tmp_path / name).read_bytes()
    golden = GOLDEN / name
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(produced)
    assert golden.is_file(), f"{golden} missing; run with REPOGRADER_REGEN_GOLDEN=1"
    assert produced == golden.read_bytes(), (
        f"{name} differs from {golden}; if intended, regenerate with REPOGRADER_REGEN_GOLDEN=1"
    )
