"""Small student repositories shaped like the real-world cases of issue 14, as file maps.

Each function returns ``{repo-relative path: text or bytes}``; tests write them into a real git
repository (tests/selfcheck_repos.make_repo) and grade them through the real pipeline. Nothing
here is copied from a student: the texts are our own words in the same shape. The two
real-layout PDFs come from make_pdfs.py (IEEEtran in Croatian, IEEEtran compsocconf).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPERS = HERE.parent / "papers"

README_OK = """# Bird song detector

This project detects bird songs in short audio clips. It is a small stand-in for a student
repository: the script prints a greeting so that the grader can see that the environment builds
and the commands of this README run on a clean machine, in the order written below.

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
    # An f-string: the README promises this exact output.
    return f"hello {name}"


# Printed so the README step has visible output.
print(greet("grader"))
'''


def paper(name: str = "ieee_letter_4p.pdf") -> bytes:
    return (PAPERS / name).read_bytes()


def good_without_notebooks() -> dict[str, str | bytes]:
    """Kind 5: everything the course asks for, and no notebooks (the course asks for none)."""
    return {
        "README.md": README_OK,
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
        "paper/paper.pdf": paper(),
    }


def short_readme_long_paper() -> dict[str, str | bytes]:
    """Kind 6: a README that exists but is short, a 5-page paper, a failing step."""
    return {
        "README.md": "# Birds\n\nRun it:\n\n```bash\npip install -r requirements.txt\n"
        "python train.py\n```\n",
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
        "paper/paper.pdf": paper("ieee_letter_5p.pdf"),
    }


INTERPRETERS_README = """# Bird song detector

Detects bird songs in short clips. We developed it on Windows and Linux machines with several
Python versions; any of the commands below starts the same script, which prints a greeting.

## Installation

```bash
python3.10 -m pip install -r requirements.txt
```

## Usage

```bash
python3 main.py
python3.10 main.py
python.exe main.py
py -3.10 -m src.main
poetry run python main.py
conda run -n birds python main.py
```

Developers only:

```bash
poetry add numpy
pip freeze > requirements.txt
pre-commit install
```
"""

WINDOWS_README = """# Bird song detector (Windows)

We wrote this on Windows. The script prints a greeting; run the one command below from the
repository's root folder after installing the requirements with pip as usual for a project.

```bash
pip install -r requirements.txt
py src\\main.py
```
"""


def interpreter_names() -> dict[str, str | bytes]:
    """Kind 1: interpreter names and tool runners of the students' machines."""
    return {
        "README.md": INTERPRETERS_README,
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
        "src/__init__.py": "",
        "src/main.py": MAIN_PY,
    }


def windows_paths() -> dict[str, str | bytes]:
    """Kind 1: a Windows path whose file exists with forward slashes."""
    return {
        "README.md": WINDOWS_README,
        "requirements.txt": "six\n",
        "src/main.py": MAIN_PY,
    }
