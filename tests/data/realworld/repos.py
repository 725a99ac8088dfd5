"""Small student repositories shaped like the real-world cases of issue 14, as file maps.

Each function returns ``{repo-relative path: text or bytes}``; tests write them into a real git
repository (tests/gitrepo.make_repo) and grade them through the real pipeline. Nothing
here is copied from a student: the texts are our own words in the same shape. The two
real-layout PDFs come from make_pdfs.py (IEEEtran in Croatian, IEEEtran compsocconf).
"""

from __future__ import annotations

from pathlib import Path

from selfcheck_repos import GOOD_README, MAIN_PY

HERE = Path(__file__).resolve().parent
PAPERS = HERE.parent / "papers"

# The same small README and script as the check/shard tests: a course-shaped good repository.
README_OK = GOOD_README


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


def _zip(members: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def notebook_readme() -> dict[str, str | bytes]:
    """Kind 3: the only README is README.ipynb; its markdown cells hold the steps."""
    import json

    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": [
                "# Bird song detector\n",
                "\n",
                "Detects bird songs in short clips. This notebook is our README: it explains the\n",
                "project and how to run it. The script is a stand-in that prints a greeting, so\n",
                "the grader can see that the environment builds and that the commands below\n",
                "run on a clean machine in the order we wrote them, first install, then run.\n",
            ],
        },
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": [
                "## Installation\n",
                "\n",
                "```bash\n",
                "pip install -r requirements.txt\n",
                "```",
            ],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": ["print('this is code, not the README text')"],
        },
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "## Usage\n\n```bash\npython main.py\n```",
        },
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return {
        "README.ipynb": json.dumps(notebook, indent=1),
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
    }


def notebook_readme_code_cells() -> dict[str, str | bytes]:
    """Kind 3, unseen: README.ipynb whose commands are code cells, as in a Colab notebook
    (`!pip install`, `!python`, `%run`); the markdown cells only explain."""
    import json

    def code(*lines: str) -> dict[str, object]:
        source = [line + "\n" for line in lines[:-1]] + [lines[-1]]
        return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                "source": source}  # fmt: skip

    intro = (
        "# Bird song detector\n\nDetects bird songs in short clips. This notebook is our README:"
        " run its cells from top to bottom. The first installs what the project needs, the "
        "second trains the detector on the clips, the third evaluates it and prints a table.\n"
    )
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": intro},
        code("!pip install -r requirements.txt"),
        {"cell_type": "markdown", "metadata": {}, "source": "## Training"},
        code("import os", "!python main.py", "print(os.getcwd())"),
        code("%run main.py"),
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return {
        "README.ipynb": json.dumps(notebook, indent=1),
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
    }


RST_README = """Bird song detector
==================

Detects bird songs in short clips.

Installation
------------

.. code-block:: console

   pip install -r requirements.txt

Usage
-----

.. code-block:: python

   python main.py
"""

TXT_README = """Bird song detector

Install:

    pip install -r requirements.txt

Run:

    python main.py
"""


def readme_forms() -> dict[str, dict[str, str | bytes]]:
    """Kind 3: the README as .rst, .txt, Readme.MD, and only in docs/ (name -> repository)."""
    base: dict[str, str | bytes] = {"requirements.txt": "six\n", "main.py": MAIN_PY}
    return {
        "README.rst": {**base, "README.rst": RST_README},
        "README.txt": {**base, "README.txt": TXT_README},
        "Readme.MD": {**base, "Readme.MD": README_OK},
        "docs/README.md": {**base, "docs/README.md": README_OK},
    }


IEEE_MAIN_TEX = r"""\documentclass[conference]{IEEEtran}
\begin{document}
\title{Detecting Bird Songs}
\maketitle
\end{document}
"""


def paper_in_other_forms() -> dict[str, str | bytes]:
    """Kind 3: the paper only as a Word file and an Overleaf export without a PDF."""
    docx = _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"})
    overleaf = _zip({"main.tex": IEEE_MAIN_TEX, "refs.bib": "", "IEEEtran.cls": "% class\n"})
    return {
        "README.md": README_OK,
        "requirements.txt": "six\n",
        "main.py": MAIN_PY,
        "paper.docx": docx,
        "overleaf.zip": overleaf,
    }


LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 48213\n"
)

LFS_MAIN = '''"""Read the training data and print its first value."""

# The CSV is stored with Git LFS; without its content this reads the pointer text.
with open("data/train.csv", encoding="utf-8") as data:
    first = float(data.read().split(",")[0])
print(first)
'''


def lfs_data() -> dict[str, str | bytes]:
    """Kind 2: a README step reads a CSV stored with Git LFS (the pointer is committed)."""
    return {
        "README.md": README_OK,
        "requirements.txt": "six\n",
        "main.py": LFS_MAIN,
        ".gitattributes": "*.csv filter=lfs diff=lfs merge=lfs -text\n",
        "data/train.csv": LFS_POINTER,
    }


def lfs_everything() -> dict[str, str | bytes]:
    """Kind 2, unseen: `git lfs track "*"` put every file in Git LFS and the objects were never
    pushed (or the host's LFS quota was used up): the README, the requirements, the code and
    the notebook are pointers. No check may judge the pointers as the student's files."""
    return {
        ".gitattributes": "* filter=lfs diff=lfs merge=lfs -text\n",
        "README.md": lfs_pointer_for(README_OK.encode()),
        "requirements.txt": lfs_pointer_for(b"six\n"),
        "main.py": lfs_pointer_for(b"print('hello')\n"),
        "analysis.ipynb": lfs_pointer_for(b"{}"),
    }


LFS_CSV = "0.5,1.5,2.5\n"


def lfs_pointer_for(data: bytes) -> str:
    """The Git LFS pointer text of ``data`` (git-lfs spec v1)."""
    import hashlib

    oid = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"


def lfs_data_with_objects() -> tuple[dict[str, str | bytes], dict[str, bytes]]:
    """Kind 2: the LFS pointer is committed and the object is in the repository's LFS store.

    Returns (files to commit, files to place under .git/ afterwards, not committed).
    """
    import hashlib

    data = LFS_CSV.encode()
    oid = hashlib.sha256(data).hexdigest()
    files = {**lfs_data(), "data/train.csv": lfs_pointer_for(data)}
    return files, {f"lfs/objects/{oid[:2]}/{oid[2:4]}/{oid}": data}
