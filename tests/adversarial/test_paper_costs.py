"""A PDF that is slow to open must not take the whole paper search with it.

The search opens candidates in a child process within a time budget; the budget was checked only
between PDFs, so one decoy whose two first pages take longer than the child's whole time limit
turned the search into a timeout, and the group's paper into "error" (a human decides) instead
of its measured verdict. Each opening is now stopped when the budget ends. In-process (the
child's function is called directly): no PDF parser is needed to be slow.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from repograder import paper


def test_one_slow_pdf_is_stopped_at_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("decoy.pdf", "paper.pdf"):
        (tmp_path / name).write_bytes(b"%PDF-1.4\n")

    def probe(data: bytes, titles: object = ()) -> dict[str, object]:
        if data == b"%PDF-1.4\n" and probe.calls == 0:  # type: ignore[attr-defined]
            probe.calls += 1  # type: ignore[attr-defined]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # busy, like a parser on a hostile stream
                pass
        return {"pages": 1}

    probe.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(paper, "_probe", probe)
    request = {
        "op": "probe",
        "root": str(tmp_path),
        "max_bytes": 1000,
        "probe_budget_s": 1.0,
        "candidates": [["decoy.pdf", 5.0, "", "file"], ["paper.pdf", 4.0, "", "file"]],
    }
    started = time.monotonic()
    answer = paper._child(request)
    assert time.monotonic() - started < 10
    reasons = {c[0]: c[2] for c in answer["candidates"]}  # type: ignore[union-attr, index]
    assert "longer than the search's time budget" in reasons["decoy.pdf"]
    # the slow one ranks after the unopened paper, which is measured in the time left
    assert answer["candidates"][0][0] == "paper.pdf"  # type: ignore[index]


def _zip(path: Path, members: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_zip_with_a_huge_member_listing_is_not_listed(tmp_path: Path) -> None:
    """zipfile reads the whole central directory into memory before we could cap the members:
    a 100 MB archive of empty members costs seconds and ~700 MB per zip. The directory's size is
    read from the end record first (PKWARE APPNOTE 4.3.16) and a big one is not opened."""
    from repograder import paper_find

    tex = b"\\documentclass[conference]{IEEEtran}\n"
    many = {"main.tex": tex} | {f"{i:06d}" + "x" * 200: b"" for i in range(8000)}
    _zip(tmp_path / "overleaf.zip", many)
    assert paper_find.find_other_forms(tmp_path) == []
    _zip(tmp_path / "overleaf.zip", {"main.tex": tex})
    assert paper_find.find_other_forms(tmp_path) == [
        "overleaf.zip holds main.tex (IEEEtran, conference) but no PDF"
    ]
