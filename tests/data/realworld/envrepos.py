"""Small repositories shaped like real student environment files (issue 13), made by code.

Each builder returns ``{path: bytes}``; nothing is copied from a real repository, only the
shapes: the encodings Windows tools write, conda/pip exports from Linux, macOS and Windows,
environment files named by their content, and pins without a distribution.
"""

from __future__ import annotations

import codecs

Files = dict[str, bytes]

CRLF = "\r\n"


def utf16le_bom(text: str) -> bytes:
    """What Windows PowerShell 5.1 writes for `pip freeze > requirements.txt`."""
    return codecs.BOM_UTF16_LE + text.replace("\n", CRLF).encode("utf-16-le")


def readme(*commands: str) -> bytes:
    block = "\n".join(commands)
    return f"# Project\n\n## Setup\n\n```bash\n{block}\n```\n".encode()


def powershell_requirements() -> Files:
    return {"requirements.txt": utf16le_bom("numpy==1.26.4\ncolorama==0.4.6\n")}


def powershell_requirements_tiny() -> Files:
    """The same shape with tiny packages, for a real build."""
    return {
        "requirements.txt": utf16le_bom("six==1.16.0\ncolorama==0.4.6\n"),
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def utf8_bom_requirements() -> Files:
    return {"requirements.txt": codecs.BOM_UTF8 + b"numpy==1.26.4\r\nscipy\r\n"}


def utf16_environment_yml() -> Files:
    text = (
        "name: audio\ndependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip:\n    - soundfile\n"
    )
    return {"environment.yml": utf16le_bom(text)}


def utf16_pyproject() -> Files:
    text = (
        '[project]\nname = "proj"\nversion = "0.1"\ndependencies = ["numpy>=1.24", "tqdm"]\n'
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    return {"pyproject.toml": utf16le_bom(text)}


def utf16_pipfile() -> Files:
    """Not named in the issue: a Pipfile saved as UTF-16 by the same editor."""
    text = '[packages]\nrequests = "*"\nnumpy = "==1.26.4"\n\n[requires]\npython_version = "3.11"\n'
    return {"Pipfile": utf16le_bom(text)}


def latin1_comments() -> Files:
    source = (
        "# Berechnet die Größe des Datensatzes (Länge in Sekunden)\n"
        "def groesse(x):\n"
        '    """Gibt die Größe zurück."""\n'
        "    return len(x)\n"
    )
    return {"model.py": source.encode("latin-1"), "requirements.txt": b"numpy\n"}


def conda_export_linux() -> Files:
    """`conda env export` on Linux (Anaconda defaults): build strings, prefix, conda-only."""
    text = """name: dl
channels:
  - defaults
dependencies:
  - _libgcc_mutex=0.1=main
  - _openmp_mutex=5.1=1_gnu
  - ca-certificates=2023.12.12=h06a4308_0
  - font-ttf-inconsolata=3.000=h77eed37_0
  - icc_rt=2022.1.0=h6049295_2
  - libcxx=14.0.6=h848a8c0_0
  - mkl-service=2.4.0=py311h5eee18b_1
  - numpy=1.26.4=py311h08b1b3b_0
  - python=3.11.7=h955ad1f_0
  - python_abi=3.11=4_cp311
  - vs2015_runtime=14.27.29016=h5e58377_2
  - zeromq=4.3.5=h6a678d5_0
  - pip:
      - tqdm==4.66.1
prefix: /home/student/anaconda3/envs/dl
"""
    return {"environment.yml": text.encode()}


def conda_export_macos() -> Files:
    """A macOS export: appnope and pyobjc under `pip:` (the issue's example)."""
    text = """name: proj
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26
  - libcxx=16.0.6
  - pip:
      - appnope==0.1.3
      - pyobjc-core==10.0
      - pyobjc-framework-cocoa==10.0
      - requests==2.31.0
prefix: /Users/student/miniforge3/envs/proj
"""
    return {"environment.yml": text.encode()}


def windows_pip_freeze() -> Files:
    """A Windows `pip freeze > requirements.txt` in PowerShell: UTF-16, pywin32, pywinpty."""
    text = "six==1.16.0\npywin32==306\npywinpty==2.0.12\ncolorama==0.4.6\n"
    return {
        "requirements.txt": utf16le_bom(text),
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def conda_export_tiny() -> Files:
    """A Linux + macOS flavoured `conda env export` with tiny packages, for a real build."""
    text = """name: tiny
channels:
  - defaults
dependencies:
  - _libgcc_mutex=0.1=main
  - font-ttf-inconsolata=3.000=h77eed37_0
  - icc_rt=2022.1.0=h6049295_2
  - libcxx=14.0.6=h848a8c0_0
  - python_abi=3.11=4_cp311
  - six=1.16.0=pyhd3eb1b0_1
  - vs2015_runtime=14.27.29016=h5e58377_2
  - zeromq=4.3.5=h6a678d5_0
  - pip:
      - appnope==0.1.3
      - pyobjc-core==10.0
      - colorama==0.4.6
prefix: /Users/student/anaconda3/envs/tiny
"""
    return {
        "environment.yml": text.encode(),
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def macos_pip_freeze() -> Files:
    """Not named in the issue: the macOS counterpart in a requirements.txt."""
    return {"requirements.txt": b"appnope==0.1.4\npyobjc-framework-Quartz==10.1\nsix==1.16.0\n"}


def conda_explicit_spec() -> Files:
    """Not named in the issue: `conda list --explicit > requirements.txt` (archive URLs)."""
    text = (
        "# This file may be used to create an environment using:\n"
        "# $ conda create --name <env> --file <this file>\n"
        "# platform: win-64\n"
        "@EXPLICIT\n"
        "https://repo.anaconda.com/pkgs/main/win-64/vs2015_runtime-14.27.29016-h5e58377_2.conda\n"
        "https://repo.anaconda.com/pkgs/main/win-64/numpy-1.26.4-py311hdab7c0b_0.conda\n"
        "https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2\n"
    )
    return {"requirements.txt": text.encode()}


def windows_tensorflow_freeze() -> Files:
    """Not named in the issue: TensorFlow 2.15 frozen on Windows pulls tensorflow-intel."""
    return {"requirements.txt": b"tensorflow==2.15.0\ntensorflow-intel==2.15.0\n"}


def anaconda_pip_freeze() -> Files:
    text = (
        "mkl-fft @ file:///croot/mkl_fft_1695058164594/work\n"
        "mkl-random @ file:///croot/mkl_random_1695059800811/work\n"
        "mkl-service==2.4.0\n"
        "numpy @ file:///croot/numpy_and_numpy_base_1704311704800/work/dist/numpy-1.26.3.whl\n"
        "six @ file:///tmp/build/80754af9/six_1644875935023/work\n"
    )
    return {"requirements.txt": text.encode()}


def marker_requirements() -> Files:
    text = 'six==1.16.0\npywin32==306; sys_platform == "win32"\nuvloop; sys_platform != "win32"\n'
    return {"requirements.txt": text.encode()}


def _env(*deps: str, prefix: str = "") -> bytes:
    lines = ["name: proj", "dependencies:", *(f"  - {d}" for d in deps)]
    if prefix:
        lines.append(f"prefix: {prefix}")
    return ("\n".join(lines) + "\n").encode()


def conda_cpu_gpu() -> Files:
    return {
        "environment-cpu.yaml": _env("python=3.11", "pytorch", "cpuonly"),
        "environment-gpu.yaml": _env("python=3.11", "pytorch", "pytorch-cuda=12.1"),
    }


def conda_crossplat() -> Files:
    export = _env(
        "numpy=1.26.4=py311h_0", "scipy=1.11.4=py311h_0", "vc=14.2=h21ff451_1",
        prefix="C:\\Users\\student\\anaconda3\\envs\\proj",
    )  # fmt: skip
    return {"conda_env.yaml": export, "environment_crossplat.yaml": _env("numpy", "scipy")}


def conda_os_folder() -> Files:
    """Not named in the issue: per-OS files in an environments/ folder."""
    return {
        "environments/windows.yml": _env("numpy", "pywin32"),
        "environments/linux.yml": _env("numpy", "scipy"),
    }


def conda_env_folder() -> Files:
    return {"env/requirements.yml": _env("python=3.10", "numpy")}


def requirements_cpu() -> Files:
    return {"requirements-cpu.txt": b"numpy\n", "requirements-gpu.txt": b"cupy\n"}


def requirements_base() -> Files:
    return {"requirements/base.txt": b"numpy\n", "requirements/dev.txt": b"-r base.txt\npytest\n"}


def requirements_folder_variants() -> Files:
    """Not named in the issue: requirements/cpu.txt next to gpu.txt and test.txt."""
    return {
        "requirements/gpu.txt": b"torch\ncupy-cuda12x\n",
        "requirements/cpu.txt": b"torch\n",
        "requirements/test.txt": b"pytest\n",
    }


def vendored_only() -> Files:
    return {
        "third_party/lib/environment.yml": _env("numpy"),
        "main.py": b"print('hi')\n",
    }


def bad_pins_large() -> Files:
    """The issue's pins without a distribution for Python 3.11 on Linux (torch-sized: detection
    and the plan only)."""
    return {"requirements.txt": b"mkl-service==2.4.0\ntorch==1.8.1\nnumpy==1.19.5\n"}


def bad_pin_tiny() -> Files:
    """An exact pin that does not exist on the index (six has 1.16.0 and 1.17.0, no 1.16.1)."""
    return {
        "requirements.txt": b"six==1.16.1\ncolorama==0.4.6\n",
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def project_install_fails() -> Files:
    """A pyproject project whose own install fails in the session (a missing package dir)."""
    pyproject = (
        '[project]\nname = "proj"\nversion = "0.1"\ndependencies = ["six"]\n'
        '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[tool.setuptools]\npackages = ["proj_missing"]\n'
    )
    return {
        "pyproject.toml": pyproject.encode(),
        "README.md": readme("python -c 'import proj_missing'"),
    }


# --- 5. set-up that spans several files --------------------------------------------------------


POETRY_PYPROJECT = """[tool.poetry]
name = "proj"
version = "0.1.0"
description = ""
authors = ["Student <student@example.org>"]
packages = [{include = "proj"}]

[tool.poetry.dependencies]
python = "^3.10"
six = "^1.16"
colorama = "0.4.6"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""


def conda_then_poetry() -> Files:
    """environment.yml with only Python, then `poetry install` (the issue's example)."""
    return {
        "environment.yml": b"name: proj\ndependencies:\n  - python=3.11\n",
        "pyproject.toml": POETRY_PYPROJECT.encode(),
        "proj/__init__.py": b"VALUE = 1\n",
        "README.md": readme(
            "conda env create -f environment.yml",
            "conda activate proj",
            "poetry install",
            'python -c "import six, colorama, proj; print(proj.VALUE)"',
        ),
    }


def conda_create_pip_editable() -> Files:
    """`conda create -n x python=3.10` + `pip install -r requirements.txt` + `pip install -e .`"""
    setup = "from setuptools import setup\n\nsetup(name='proj', version='0.1', packages=['proj'])\n"
    return {
        "requirements.txt": b"six==1.16.0\n",
        "setup.py": setup.encode(),
        "proj/__init__.py": b"",
        "README.md": readme(
            "conda create -n x python=3.10 -y",
            "conda activate x",
            "pip install -r requirements.txt",
            "pip install -e .",
            "python -c 'import six, proj'",
        ),
    }


def readme_names_missing_file() -> Files:
    """Not named in the issue: the README installs a file the repository does not have."""
    return {
        "requirements.txt": b"six\n",
        "README.md": readme("pip install -r requirements-dev.txt", "python main.py"),
    }


def readme_adds_packages() -> Files:
    """Not named in the issue: requirements.txt plus a package installed by hand."""
    return {
        "requirements.txt": b"six==1.16.0\n",
        "README.md": readme("pip install -r requirements.txt", "pip install colorama==0.4.6"),
    }


# --- unseen inputs of the kinds (written after the kinds were done) ----------------------


def utf16be_environment_yml_no_bom() -> Files:
    """Not named in the issue: an editor's "UTF-16 BE" without a byte-order mark, CRLF lines."""
    text = (
        "name: audio\ndependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip:\n    - soundfile\n"
    )
    return {"environment.yml": text.replace("\n", CRLF).encode("utf-16-be")}


def conda_from_history_macos() -> Files:
    """Not named in the issue: `conda env export --from-history` on a Mac: channel-qualified
    names as the student typed them, no builds, no pip section, a /Users prefix."""
    text = """name: audio
channels:
  - pytorch
  - conda-forge
  - defaults
dependencies:
  - python=3.10
  - pytorch::pytorch
  - pytorch::torchaudio
  - conda-forge::librosa
  - matplotlib-base
  - jupyter
prefix: /Users/ana/miniconda3/envs/audio
"""
    return {"environment.yml": text.encode()}


def windows_freeze_wmi() -> Files:
    """Not named in the issue: a Windows `pip freeze` (PowerShell, UTF-16) with WMI, whose
    universal wheel requires pywin32 everywhere, and pywin32-ctypes, a pure-Python wheel."""
    text = "colorama==0.4.6\npywin32==306\npywin32-ctypes==0.2.2\nWMI==1.5.1\nsix==1.16.0\n"
    return {
        "requirements.txt": utf16le_bom(text),
        "README.md": readme(
            'python -c "import six, colorama, win32ctypes; print(six.__version__)"'
        ),
    }


POETRY_LOCK = """# This file is automatically @generated by Poetry 1.8.2 and should not be changed.

[[package]]
name = "colorama"
version = "0.4.6"
description = "Cross-platform colored terminal text."
optional = false
python-versions = "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,!=3.6.*,>=2.7"
files = []

[[package]]
name = "pywin32"
version = "306"
description = "Python for Window Extensions"
optional = false
python-versions = "*"
markers = "sys_platform == \\"win32\\""
files = []

[[package]]
name = "six"
version = "1.16.0"
description = "Python 2 and 3 compatibility utilities"
optional = false
python-versions = ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*"
files = []

[[package]]
name = "tomli"
version = "2.0.1"
description = "A lil' TOML parser"
optional = true
python-versions = ">=3.7"
files = []

[extras]
toml = ["tomli"]

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "0123456789abcdef"
"""


def poetry_lock_only() -> Files:
    """Not named in the issue: poetry.lock committed, its pyproject.toml forgotten."""
    return {
        "poetry.lock": POETRY_LOCK.encode(),
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def hashed_requirements() -> Files:
    """Not named in the issue: `pip-compile --generate-hashes` output (continuation lines with
    --hash options and `# via` comments)."""
    text = """#
# This file is autogenerated by pip-compile with Python 3.11
#    pip-compile --generate-hashes requirements.in
#
colorama==0.4.6 \\
    --hash=sha256:08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44 \\
    --hash=sha256:4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6
    # via -r requirements.in
six==1.16.0 \\
    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926 \\
    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254
    # via -r requirements.in
"""
    return {
        "requirements.txt": text.encode(),
        "README.md": readme('python -c "import six, colorama; print(six.__version__)"'),
    }


def hashed_requirements_with_vcs() -> Files:
    """The same with an editable VCS line and `--require-hashes` added by hand (detection only:
    the grader's test machines reach no git host)."""
    files = hashed_requirements()
    extra = b"-e git+https://github.com/student/helpers.git@3f2a1c9#egg=helpers\n--require-hashes\n"
    return {**files, "requirements.txt": files["requirements.txt"] + extra}
