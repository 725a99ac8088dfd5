"""What a run pays before grading: libraries that only some runs need are not imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

# rich: only the live table on a terminal; markdown_it: only when a README is parsed (an
# all-cached warm run parses none).
LAZY = ("rich", "markdown_it")


@pytest.mark.parametrize("module", ["repograder.cli", "repograder.pipeline", "repograder.report"])
def test_start_up_does_not_import_libraries_used_later(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == []


def test_the_live_table_and_readme_parsing_still_find_their_libraries() -> None:
    from repograder import readme
    from repograder.progress import LiveProgress

    assert readme.parse_readme("# T\n\n```bash\npython run.py\n```\n")
    live = LiveProgress()
    live.begin(["g"])
    live.end()
