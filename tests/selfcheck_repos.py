"""Tiny student repositories as file maps for the check/shard/snapshot tests (written into real
git repositories with tests/gitrepo.py)."""

from __future__ import annotations

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


def good_files(requirements: str = "six\n") -> dict[str, str]:
    return {"README.md": GOOD_README, "requirements.txt": requirements, "main.py": MAIN_PY}


PAPER_4P = Path(__file__).resolve().parent / "data" / "papers" / "ieee_letter_4p.pdf"


def complete_files(requirements: str = "six\n") -> dict[str, str | bytes]:
    """good_files plus a 4-page IEEE paper: every check of the default rubric can pass."""
    return {**good_files(requirements), "paper/paper.pdf": PAPER_4P.read_bytes()}


def bad_files() -> dict[str, str]:
    """No environment file (a required check) and a README step that fails."""
    return {"README.md": BROKEN_README, "main.py": MAIN_PY}
