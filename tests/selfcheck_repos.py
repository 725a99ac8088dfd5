"""Tiny student repositories (real git, dated commits) for the check/shard/snapshot tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

GOOD_README = """# Tiny chirp classifier

This small project is a stand-in for a student repository. It prints a greeting so that the
grader can see that the environment builds and that the README's commands run on a clean
machine. Follow the steps below in order: first install the requirements, then run the script.

## Installation

```bash
pip install -r requirements.txt
```

## Usage

```bash
python main.py
```
"""

MAIN_PY = '''"""Entry point: print a greeting."""


def greet(name: str) -> str:
    """Return the greeting for `name`."""
    # f-string rather than format(): the README promises this exact output.
    return f"hello {name}"


# Printed so the README step has visible output.
print(greet("grader"))
'''

BROKEN_README = GOOD_README.replace("python main.py", "python missing_script.py")


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def commit(repo: Path, files: Mapping[str, str | bytes], message: str, date: str) -> str:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def make_repo(
    root: Path, files: Mapping[str, str | bytes], date: str = "2026-03-30T10:00:00+00:00"
) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q")
    commit(root, files, "initial", date)
    return root


def good_files(requirements: str = "six\n") -> dict[str, str]:
    return {"README.md": GOOD_README, "requirements.txt": requirements, "main.py": MAIN_PY}


PAPER_4P = Path(__file__).resolve().parent / "data" / "papers" / "ieee_letter_4p.pdf"


def complete_files(requirements: str = "six\n") -> dict[str, str | bytes]:
    """good_files plus a 4-page IEEE paper: every check of the default rubric can pass."""
    return {**good_files(requirements), "paper/paper.pdf": PAPER_4P.read_bytes()}


def bad_files() -> dict[str, str]:
    """No environment file (a required check) and a README step that fails."""
    return {"README.md": BROKEN_README, "main.py": MAIN_PY}
