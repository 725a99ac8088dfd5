"""Environment detection: detectors, ordering, translation, hashing, robustness."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repograder import model
from repograder.checks.env_file import evaluate_env_file
from repograder.detect import (
    EnvKind,
    EnvSpec,
    choose_python,
    detect_env,
    spec_to_json,
    translate_conda,
)
from repograder.envhash import content_hash
from repograder.envparse import poetry_constraint_to_pip, sanitize_requirement


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# --- requirements -------------------------------------------------------------------------------


def test_requirements_at_root_with_includes_and_cleanup(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        """
        # main deps
        numpy>=1.24  # inline comment
        -r requirements/base.txt
        -c requirements/constraints.txt
        torch==2.1.0+cu121
        --extra-index-url https://download.pytorch.org/whl/cu118
        -e .
        -r ../../etc/secrets.txt
        /home/student/wheels/foo-1.0-py3-none-any.whl
        pywin32; sys_platform == "win32"
        """,
    )
    write(tmp_path, "requirements/base.txt", "librosa==0.10.1\n")
    write(tmp_path, "requirements/constraints.txt", "scipy<2\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.REQUIREMENTS
    assert spec.path == "requirements.txt"
    assert spec.reason == "requirements.txt at the repository root"
    assert spec.files == (
        "requirements.txt",
        "requirements/base.txt",
        "requirements/constraints.txt",
    )
    # issue 13: an entry whose marker excludes Linux is dropped with the reason
    assert spec.requirements == ("numpy>=1.24", "librosa==0.10.1", "torch==2.1.0")
    assert any("pywin32" in d and "excludes Linux" in d for d in spec.dropped)
    assert spec.constraints == ("scipy<2",)
    assert spec.install_project is True
    assert any("cu121" in w and "torch==2.1.0" in w for w in spec.warnings)
    dropped = "\n".join(spec.dropped)
    assert "download.pytorch.org/whl/cu118" in dropped
    assert "../../etc/secrets.txt: include outside the repository" in dropped
    assert "foo-1.0-py3-none-any.whl" in dropped
    assert spec.python_version is None


def test_requirements_include_forms_cycles_and_continuations(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "-ra.txt\n--requirement=sub/b.txt\nfoo==1.0 \\\n    --hash=sha256:abc\n",
    )
    write(tmp_path, "a.txt", "-r requirements.txt\nnumpy\n")
    write(tmp_path, "sub/b.txt", "-c ../pins.txt\nscipy\n")
    write(tmp_path, "pins.txt", "scipy==1.11.0\n")
    spec = detect_env(tmp_path)
    assert spec.files == ("requirements.txt", "a.txt", "sub/b.txt", "pins.txt")
    # issue 13: the continuation is joined, then its --hash option removed with a note
    assert spec.requirements == ("numpy", "scipy", "foo==1.0")
    assert any("foo==1.0 --hash=sha256:abc: replaced by 'foo==1.0'" in w for w in spec.warnings)
    assert spec.constraints == ("scipy==1.11.0",)


def test_requirements_include_with_a_windows_path(tmp_path: Path) -> None:
    """`-r requirements\\base.txt` as a Windows student writes it: before, "included file not
    found", and base.txt's packages were missing from the build."""
    write(tmp_path, "requirements.txt", "-r requirements\\base.txt\nlibrosa\n")
    write(tmp_path, "requirements/base.txt", "numpy\n")
    spec = detect_env(tmp_path)
    assert spec.requirements == ("numpy", "librosa")
    assert spec.files == ("requirements.txt", "requirements/base.txt")
    write(tmp_path, "requirements.txt", "-r ..\\outside.txt\n-r C:\\Users\\a\\r.txt\n")
    assert [d.rsplit(": ", 1)[1] for d in detect_env(tmp_path).dropped] == [
        "include outside the repository",
        "include outside the repository",
    ]


def test_requirements_include_via_symlink_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("evil==1\n")
    repo = tmp_path / "repo"
    write(repo, "requirements.txt", "-r extra.txt\nnumpy\n")
    os.symlink(outside, repo / "extra.txt")
    spec = detect_env(repo)
    assert spec.requirements == ("numpy",)
    assert "extra.txt" not in spec.files
    assert any("extra.txt" in d for d in spec.dropped)


def test_requirements_conda_export_lines_and_file_urls(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        """
        numpy=1.24.3=py310h5f9d8c6_1
        scipy @ file:///home/conda/feedstock_root/build_artifacts/scipy_1
        cudatoolkit=11.8.0=h6a678d5_0
        This project needs python 3
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.requirements == ("numpy==1.24.3", "scipy")
    assert any("cudatoolkit" in d for d in spec.dropped)
    assert any("not a requirement" in d for d in spec.dropped)


def test_requirements_variant_and_folder_fallbacks(tmp_path: Path) -> None:
    write(tmp_path, "requirements-dev.txt", "pytest\n")
    write(tmp_path, "requirements_cpu.txt", "torch\n")
    spec = detect_env(tmp_path)
    assert spec.path == "requirements_cpu.txt"
    assert "no plain requirements.txt" in spec.reason
    write(tmp_path, "requirements/base.txt", "numpy\n")
    assert detect_env(tmp_path).path == "requirements/base.txt"
    write(tmp_path, "requirements.txt", "scipy\n")
    spec = detect_env(tmp_path)
    assert spec.path == "requirements.txt"
    assert "requirements-dev.txt" in spec.candidates


# --- conda --------------------------------------------------------------------------------------

ENV_YML = """
name: audio
channels:
  - pytorch
  - conda-forge
dependencies:
  - python=3.10
  - pytorch=2.1
  - torchaudio
  - cudatoolkit=11.8
  - conda-forge::ffmpeg
  - libsndfile
  - numpy>=1.20
  - pip
  - pip:
      - -r requirements-pip.txt
      - soundfile==0.12.1
"""


def test_conda_env_yml(tmp_path: Path) -> None:
    write(tmp_path, "environment.yml", ENV_YML)
    write(tmp_path, "requirements-pip.txt", "tqdm\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.CONDA
    assert spec.path == "environment.yml"
    assert spec.conda_strategy == "translated"
    assert spec.python_version == "3.10"
    assert spec.python_source == "python= in environment.yml"
    assert spec.requirements == (
        "torch==2.1.*",
        "torchaudio",
        "numpy>=1.20",
        "tqdm",
        "soundfile==0.12.1",
    )
    assert spec.apt_packages == ("ffmpeg", "libsndfile1")
    assert spec.files == ("environment.yml", "requirements-pip.txt")
    assert any(
        d.endswith("cudatoolkit=11.8: CUDA component, not needed on a CPU-only grader")
        for d in spec.dropped
    )
    assert any("pip: present in every Python environment" in d for d in spec.dropped)


def test_conda_in_env_folder_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "env/environment.yaml", "dependencies:\n  - numpy=1.24\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndependencies = ["scipy"]\n')
    spec = detect_env(tmp_path)
    assert spec.path == "env/environment.yaml"
    assert spec.requirements == ("numpy==1.24.*",)
    assert "pyproject.toml" in spec.candidates


def test_conda_env_export_style() -> None:
    doc = {
        "name": "base",
        "channels": ["defaults"],
        "dependencies": [
            "_libgcc_mutex=0.1=main",
            "_openmp_mutex=5.1=1_gnu",
            "blas=1.0=mkl",
            "ca-certificates=2023.08.22=h06a4308_0",
            "ld_impl_linux-64=2.38=h1181459_1",
            "libffi=3.4.4=h6a678d5_0",
            "libgcc-ng=11.2.0=h1234567_1",
            "mkl=2023.1.0=h213fc3f_46344",
            "numpy=1.26.0=py310h5f9d8c6_0",
            "numpy-base=1.26.0=py310hb5e798b_0",
            "openssl=3.0.11=h7f8727e_2",
            "python=3.10.13=h955ad1f_0",
            "pytorch=2.1.0=py3.10_cuda11.8_cudnn8.7.0_0",
            "pytorch-cuda=11.8=h7e8668a_5",
            "nvidia::libcublas=11.11.3.6=0",
            "readline=8.2=h5eee18b_0",
            "scikit-learn=1.3.0=py310h1128e8f_0",
            "sqlite=3.41.2=h5eee18b_0",
            "tk=8.6.12=h1ccaba5_0",
            "tzdata=2023c=h04d1e81_0",
            "xz=5.4.2=h5eee18b_0",
            "zlib=1.2.13=h5eee18b_0",
            "librosa=0.10.1=pyhd8ed1ab_0",
            "matplotlib-base=3.8.0=py310h1128e8f_0",
            "py-opencv=4.6.0=py310hd4123bb_2",
            "appnope=0.1.3=pyhd8ed1ab_0",
            "vs2015_runtime=14.27.29016=h5e58377_2",
            {"pip": ["einops==0.7.0"]},
        ],
    }
    result = translate_conda(doc)
    assert result.python_version == "3.10.13"
    assert result.requirements == (
        "numpy==1.26.0",
        "torch==2.1.0",
        "scikit-learn==1.3.0",
        "librosa==0.10.1",
        "matplotlib==3.8.0",
        "opencv-python==4.6.0",
    )
    assert result.pip_lines == ("einops==0.7.0",)
    dropped_names = {d.split("=")[0] for d in result.dropped}
    assert {"_libgcc_mutex", "mkl", "blas", "openssl", "pytorch-cuda", "nvidia::libcublas"} <= (
        dropped_names
    )
    assert {"zlib", "tk", "tzdata", "appnope", "vs2015_runtime", "ld_impl_linux-64"} <= (
        dropped_names
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("numpy=1.24", "numpy==1.24.*"),
        ("numpy=1.24.*", "numpy==1.24.*"),
        ("numpy>=1.20", "numpy>=1.20"),
        ("numpy 1.24 py310_0", "numpy==1.24"),
        ("numpy=1.24=py310habc", "numpy==1.24"),
        ("numpy==1.24.1", "numpy==1.24.1"),
        ("conda-forge::numpy", "numpy"),
        ("numpy[version='>=1.20,<2']", "numpy>=1.20,<2"),
        ("pysoundfile", "soundfile"),
        ("pyaudio=0.2.13", "pyaudio==0.2.13.*"),
        ("pytorch-cpu", "torch"),
        ("opencv", "opencv-python"),
        ("pyyaml", "pyyaml"),
    ],
)
def test_conda_version_translation(entry: str, expected: str) -> None:
    assert translate_conda({"dependencies": [entry]}).requirements == (expected,)


def test_conda_c_libraries_are_known_by_their_build_string() -> None:
    """A pytorch export from conda-forge (macOS or Linux) lists the C/C++ libraries pytorch links
    (sleef, eigen, pybind11-abi, yaml-cpp): no Python tag in the build string, so not pip
    packages. Before, they became `sleef==3.5.1` (not on PyPI) or `eigen==3.4.0` (an unrelated
    PyPI project without that version) and the build failed."""
    doc = {
        "dependencies": [
            "sleef=3.5.1=h156473d_2",
            "eigen=3.4.0=h1995070_0",
            "pybind11-abi=4=hd8ed1ab_3",
            "yaml-cpp=0.8.0=h13dd4ca_0",
            "libsndfile=1.2.2=h9739721_1",
            "pytorch=2.1.0=cpu_generic_py311h05dd1ea_2",
            "einops=0.7.0=pyhd8ed1ab_1",
            "soundfile=0.12.1=pypi_0",
            "torchaudio 2.1.0 py311_cpu",
            "eigen=3.4",  # written by hand, no build string: kept as the student wrote it
        ]
    }
    result = translate_conda(doc)
    assert result.requirements == (
        "torch==2.1.0",
        "einops==0.7.0",
        "soundfile==0.12.1",
        "torchaudio==2.1.0",
        "eigen==3.4.*",
    )
    assert result.apt_packages == ("libsndfile1",)
    dropped = {d.split("=")[0]: d for d in result.dropped}
    assert set(dropped) == {"sleef", "eigen", "pybind11-abi", "yaml-cpp"}
    assert "has no Python tag" in dropped["sleef"]
    # the same line in a `conda list --export` requirements file, and a `--explicit` URL
    line = sanitize_requirement("sleef=3.5.1=h9e2ab2b_2")
    assert line.line is None
    assert "has no Python tag" in (line.dropped or "")
    url = "https://conda.anaconda.org/conda-forge/linux-64/sleef-3.5.1-h9e2ab2b_2.conda"
    assert sanitize_requirement(url).line is None
    assert sanitize_requirement("numba=0.58.1=py311ha02d727_0").line == "numba==0.58.1"


CONDA_LIST = """\
# packages in environment at /home/ana/miniconda3/envs/audio:
#
# Name                    Version                   Build  Channel
_libgcc_mutex             0.1                        main
blas                      1.0                         mkl
librosa                   0.10.1                   pypi_0    pypi
numpy                     1.26.0          py311h08b1b3b_0
python                    3.11.5               h955ad1f_0
pytorch                   2.1.0           py3.11_cpu_0    pytorch
sleef                     3.5.1                h9e2ab2b_2    conda-forge
"""


def test_conda_list_table_saved_as_requirements(tmp_path: Path) -> None:
    """`conda list > requirements.txt`: before, every row was "not a requirement", the build made
    an empty environment and the notebooks' import errors blamed the student."""
    write(tmp_path, "requirements.txt", CONDA_LIST)
    spec = detect_env(tmp_path)
    assert spec.requirements == ("librosa==0.10.1", "numpy==1.26.0", "torch==2.1.0")
    assert (spec.python_version, spec.python_source) == (
        "3.11.5",
        "the python line in requirements.txt:8",
    )
    dropped = {d.split(": ", 1)[1].split()[0] for d in spec.dropped}
    assert {"_libgcc_mutex", "blas", "python", "sleef"} <= dropped


def test_conda_tooling_in_a_pip_freeze_of_anacondas_base_is_dropped(tmp_path: Path) -> None:
    """`pip freeze` in Anaconda's base environment: before, `conda==23.9.0` (PyPI's conda ends at
    4.3.16) and `conda-libmamba-solver @ file:///…` (unpinned: not on PyPI) sank the build."""
    freeze = (
        "conda==23.9.0\n"
        "conda-libmamba-solver @ file:///croot/conda-libmamba-solver_1691418897561/work/src\n"
        "libmambapy @ file:///croot/mamba-split_1698782620632/work/libmambapy\n"
        "anaconda-client==1.12.1\n"
        "librosa==0.10.1\n"
    )
    write(tmp_path, "requirements.txt", freeze)
    spec = detect_env(tmp_path)
    assert spec.requirements == ("librosa==0.10.1",)
    assert all("conda's own tooling" in d for d in spec.dropped)
    assert len(spec.dropped) == 4
    # the same names in a conda file
    assert translate_conda({"dependencies": ["conda=23.9.0=py311h06a4308_0"]}).requirements == ()


def test_pytorch_cpu_build_tag_is_removed(tmp_path: Path) -> None:
    """`pip freeze` after installing PyTorch from its CPU index writes `torch==2.1.0+cpu`, a
    version no other index has: before, the first build failed and the pin was "relaxed" (a
    warning and half the env-build points). `torch==2.1.0` matches the +cpu build too."""
    write(tmp_path, "requirements.txt", "torch==2.1.0+cpu\ntorchaudio==2.1.0+cpu\ncpuinfo==9.0.0\n")
    spec = detect_env(tmp_path)
    assert spec.requirements == ("torch==2.1.0", "torchaudio==2.1.0", "cpuinfo==9.0.0")
    rows = {c.entry: (c.action, c.why) for c in spec.changes}
    assert rows["torch==2.1.0+cpu"][0] == "translated"
    assert "CPU build tag removed" in rows["torch==2.1.0+cpu"][1]


def test_pip_list_table_saved_as_requirements(tmp_path: Path) -> None:
    """`pip list > requirements.txt`: before, every row was "not a requirement" and the rule of
    dashes under the header went to the installer as a pip option, which it cannot parse."""
    table = (
        "Package            Version\n"
        "------------------ -----------\n"
        "librosa            0.10.1\n"
        "pywin32            306\n"
        "torch              2.1.0+cu118\n"
        "audio-proj         0.1.0       C:\\Users\\ana\\proj\n"
    )
    write(tmp_path, "requirements.txt", table)
    spec = detect_env(tmp_path)
    assert spec.requirements == ("librosa==0.10.1", "torch==2.1.0")
    rows = {c.entry: (c.action, c.why) for c in spec.changes}
    assert rows["librosa            0.10.1"] == (
        "translated",
        "a row of `pip list` translated to 'librosa==0.10.1'",
    )
    assert rows["pywin32            306"][0] == "dropped"
    assert rows["------------------ -----------"] == ("dropped", "the rule under a table's header")
    assert "local folder" in rows["audio-proj         0.1.0       C:\\Users\\ana\\proj"][1]


WIN_WHEEL = "https://download.pytorch.org/whl/cu118/torch-2.1.0%2Bcu118-cp310-cp310-win_amd64.whl"
MAC_WHEEL = "https://files.example.org/numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl#sha256=ab"
SPACY = "https://github.com/explosion/spacy-models/releases/download/en_core_web_sm-3.7.1/en_core_web_sm-3.7.1-py3-none-any.whl"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        # pip reads these; the name pattern took `git`/`https` for a package and dropped them
        ("git+https://github.com/openai/whisper.git@v20231117", None),
        ("https://github.com/student/helpers/archive/main.zip", None),
        # a wheel for another OS cannot install: the same release from the index
        (f"torch @ {WIN_WHEEL}", "torch==2.1.0"),
        (WIN_WHEEL, "torch==2.1.0"),
        (f"numpy @ {MAC_WHEEL}", "numpy==1.26.4"),
        # pure and Linux wheels are kept as written (a spaCy model is on no index)
        (f"en-core-web-sm @ {SPACY}", None),
    ],
)
def test_url_requirements(line: str, kept: str | None) -> None:
    result = sanitize_requirement(line)
    assert result.line == (kept or line)
    assert result.dropped is None
    if kept:
        assert "not Linux" in (result.warning or "")


@pytest.mark.parametrize(
    "line",
    [
        # A committed wheel or sdist named by itself: pip reads a path relative to its working
        # directory; taken for a project name it failed the build ("Distribution not found")
        # and, shared by half a course, the whole shared layer (helper-32).
        "course_utils-0.1-py3-none-any.whl",
        "foo-1.0.tar.gz",
        "wheels/mylib-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "Helpers-0.3.ZIP",
        'course_utils-0.1-py3-none-any.whl ; python_version >= "3.8"',  # helper-35
    ],
)
def test_a_distribution_file_by_name_is_a_local_path(line: str) -> None:
    result = sanitize_requirement(line)
    assert result.line is None
    assert result.dropped == f"{line}: local file path is not available in the sandbox"


@pytest.mark.parametrize(
    ("line", "python"),
    [
        ("python=3.10.13=h955ad1f_0", "3.10.13"),  # conda list --export
        ("https://repo.anaconda.com/pkgs/main/linux-64/python-3.9.18-h955ad1f_0.conda", "3.9.18"),
        ("python==3.10", "==3.10"),  # students state their Python in requirements.txt
        ("python>=3.9,<3.12", ">=3.9,<3.12"),
        ("python", None),
    ],
)
def test_a_python_line_in_requirements_names_the_python(line: str, python: str | None) -> None:
    result = sanitize_requirement(line)
    assert result.line is None
    assert result.python == python


def test_a_platform_build_of_a_portable_package_is_replaced_not_dropped(tmp_path: Path) -> None:
    """A Mac student's hand-written `tensorflow-macos` is their TensorFlow: before, it was dropped
    like tensorflow-metal and every notebook failed on `import tensorflow`."""
    write(tmp_path, "requirements.txt", "tensorflow-macos==2.13.0\ntensorflow-metal\nlibrosa\n")
    spec = detect_env(tmp_path)
    assert spec.requirements == ("tensorflow==2.13.0", "librosa")
    rows = {c.entry: (c.action, c.why) for c in spec.changes}
    assert rows["tensorflow-macos==2.13.0"][0] == "translated"
    assert "replaced by 'tensorflow==2.13.0'" in rows["tensorflow-macos==2.13.0"][1]
    assert rows["tensorflow-metal"][0] == "dropped"
    # a macOS freeze lists both: one tensorflow line
    freeze = "tensorflow==2.13.0\ntensorflow-macos==2.13.0\nonnxruntime-directml==1.16.3\n"
    write(tmp_path, "requirements.txt", freeze)
    assert detect_env(tmp_path).requirements == ("tensorflow==2.13.0", "onnxruntime==1.16.3")
    # its own version numbers: the pin is not carried over
    assert sanitize_requirement("python-magic-bin==0.4.14").line == "python-magic"
    # a marker that excludes Linux still wins: the student listed the Linux package elsewhere
    assert sanitize_requirement('tensorflow-macos; sys_platform == "darwin"').line is None
    # the same in a conda file's pip section, whose `pip` dependency is its own table row
    write(tmp_path, "requirements.txt", "")
    (tmp_path / "requirements.txt").unlink()
    write(
        tmp_path,
        "environment.yml",
        "dependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - tensorflow-macos==2.13.0\n",
    )
    spec = detect_env(tmp_path)
    assert spec.requirements == ("tensorflow==2.13.0",)
    assert {c.entry for c in spec.changes} == {"pip", "tensorflow-macos==2.13.0"}


def test_conda_apt_mapping() -> None:
    result = translate_conda({"dependencies": ["sox", "portaudio", "ffmpeg=6"]})
    assert result.apt_packages == ("sox", "portaudio19-dev", "ffmpeg")
    assert result.requirements == ()


def test_malformed_yaml_is_a_spec_with_warning(tmp_path: Path) -> None:
    write(tmp_path, "environment.yml", "name: x\ndependencies:\n  - numpy\n - [oops\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.CONDA
    assert spec.requirements == ()
    assert spec.parse_error is not None
    assert "line 4" in spec.parse_error
    verdict = evaluate_env_file(spec, model.Params())
    assert verdict.status is model.Status.WARN


# --- pyproject / setup / Pipfile ---------------------------------------------------------------


def test_pyproject_pep621_with_console_script(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "audioproj"
        requires-python = ">=3.10"
        dependencies = ["librosa>=0.10", "torch==2.2.0+cu118"]

        [project.scripts]
        train = "audioproj.train:main"
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.PYPROJECT
    assert spec.requirements == ("librosa>=0.10", "torch==2.2.0")
    assert spec.build_requires == ("hatchling",)
    assert spec.install_project is True
    assert spec.scripts == ("train",)
    assert spec.python_version == ">=3.10"
    assert spec.python_source == "requires-python in pyproject.toml"


def test_pyproject_poetry_caret(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
        [tool.poetry]
        name = "x"
        [tool.poetry.dependencies]
        python = "^3.10"
        numpy = "^1.24"
        scipy = "~1.11"
        torch = { version = "^2.1", extras = ["audio"], markers = "sys_platform == 'linux'" }
        plot = { version = "*", optional = true }
        local = { path = "../lib" }
        mylib = { git = "https://github.com/a/b.git", tag = "v1" }
        [tool.poetry.scripts]
        run-it = "x:main"
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.PYPROJECT
    assert spec.python_version == ">=3.10,<4.0"
    assert spec.requirements == (
        "numpy>=1.24,<2.0",
        "scipy>=1.11,<1.12",
        "torch[audio]>=2.1,<3.0; sys_platform == 'linux'",
        "mylib @ git+https://github.com/a/b.git@v1",
    )
    assert spec.build_requires == ("poetry-core>=1.0",)
    assert spec.scripts == ("run-it",)
    assert any("optional" in d for d in spec.dropped)
    assert any("local path" in d for d in spec.dropped)
    assert choose_python(spec.python_version, ["3.10", "3.11", "3.12"], "3.11") == ("3.11", None)


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("^1.2", ">=1.2,<2.0"),
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        (">=1,<2", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        ("*", ""),
    ],
)
def test_poetry_constraints(constraint: str, expected: str) -> None:
    assert poetry_constraint_to_pip(constraint) == (expected, None)


def test_poetry_platform_and_pipfile_marker_keys_are_markers(tmp_path: Path) -> None:
    """Poetry's `platform = "darwin"` and Pipfile's `sys_platform = "== 'win32'"` were ignored:
    a macOS-only dependency was installed (or replaced) on Linux as if written for every OS."""
    write(
        tmp_path,
        "pyproject.toml",
        """
        [tool.poetry]
        name = "audio"
        version = "0.1.0"
        [tool.poetry.dependencies]
        python = "^3.10"
        tensorflow-macos = { version = "^2.13.0", platform = "darwin" }
        tensorflow = { version = "^2.13.0", markers = "sys_platform == 'linux'" }
        [build-system]
        requires = ["poetry-core"]
        build-backend = "poetry.core.masonry.api"
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.requirements == ("tensorflow>=2.13.0,<3.0.0; sys_platform == 'linux'",)
    assert any("excludes Linux" in d for d in spec.dropped)
    (tmp_path / "pyproject.toml").unlink()
    write(
        tmp_path,
        "Pipfile",
        """
        [packages]
        librosa = "*"
        pywinpty = {version = "*", sys_platform = "== 'win32'"}
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.requirements == ("librosa",)
    assert any("sys_platform == 'win32'" in d for d in spec.dropped)


def test_tool_only_pyproject_falls_through(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.NONE
    assert spec.candidates == ("pyproject.toml",)
    write(tmp_path, "Pipfile", '[packages]\nnumpy = "*"\n')
    assert detect_env(tmp_path).kind is EnvKind.PIPFILE


def test_setup_py_static_install_requires(tmp_path: Path) -> None:
    write(
        tmp_path,
        "setup.py",
        """
        from setuptools import setup
        REQS = ["numpy>=1.2", "soundfile"]
        raise SystemExit("never executed")
        setup(name="x", install_requires=REQS, python_requires=">=3.9")
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.SETUP_PY
    assert spec.requirements == ("numpy>=1.2", "soundfile")
    assert spec.install_project is True
    assert spec.python_version == ">=3.9"
    assert spec.build_requires == ("setuptools>=61", "wheel")
    verdict = evaluate_env_file(spec, model.Params())
    assert verdict.status is model.Status.WARN
    assert "setup.py" in verdict.summary


def test_setup_cfg_and_computed_setup_py(tmp_path: Path) -> None:
    write(
        tmp_path,
        "setup.py",
        "from setuptools import setup\n"
        "setup(install_requires=open('requirements-base.txt').read().split())\n",
    )
    write(tmp_path, "requirements-base.txt", "numpy\n")
    write(tmp_path, "setup.cfg", "[options]\ninstall_requires =\n    scipy>=1\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.SETUP_PY
    assert spec.requirements == ("scipy>=1",)
    # setup.py reads this file: it goes into the build, and the variant name does not win
    assert "requirements-base.txt" in spec.files
    assert any("computed" in w for w in spec.warnings)


def test_pipfile(tmp_path: Path) -> None:
    write(
        tmp_path,
        "Pipfile",
        """
        [packages]
        numpy = "*"
        scipy = ">=1.10"
        torch = {version = "==2.1.0", extras = ["x"]}
        [dev-packages]
        pytest = "*"
        [requires]
        python_version = "3.9"
        """,
    )
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.PIPFILE
    assert spec.requirements == ("numpy", "scipy>=1.10", "torch[x]==2.1.0")
    assert spec.python_version == "3.9"


def test_malformed_toml_never_raises(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[project\nname = \n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.PYPROJECT
    assert spec.parse_error is not None
    assert "invalid TOML" in spec.parse_error


# --- ordering, nesting, vendoring, python pins --------------------------------------------------


def test_requirements_wins_over_conda_and_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "numpy\n")
    write(tmp_path, "environment.yml", ENV_YML)
    write(tmp_path, "pyproject.toml", '[project]\nname="x"\ndependencies=["a"]\n')
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.REQUIREMENTS
    assert set(spec.candidates) == {"environment.yml", "pyproject.toml"}


def test_vendored_subproject_ignored(tmp_path: Path) -> None:
    write(tmp_path, "third_party/lib/requirements.txt", "evil\n")
    write(tmp_path, "venv/requirements.txt", "evil\n")
    write(tmp_path, "mycode/deep/requirements.txt", "deep\n")
    write(tmp_path, "docs/requirements.txt", "sphinx\n")
    spec = detect_env(tmp_path)
    assert spec.kind is EnvKind.NONE
    assert spec.reason == "no environment file found; a bare Python environment is used"
    assert "third_party/lib/requirements.txt" not in spec.candidates
    assert "venv/requirements.txt" not in spec.candidates
    assert "mycode/deep/requirements.txt" in spec.candidates
    assert evaluate_env_file(spec, model.Params()).status is model.Status.FAIL


def test_one_level_down_is_found_with_warning(tmp_path: Path) -> None:
    write(tmp_path, "code/requirements.txt", "numpy\n")
    spec = detect_env(tmp_path)
    assert spec.path == "code/requirements.txt"
    assert "one level below the root" in spec.reason
    verdict = evaluate_env_file(spec, model.Params())
    assert verdict.status is model.Status.WARN
    assert verdict.fraction == 0.75


def test_python_version_files(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "numpy\n")
    write(tmp_path, "runtime.txt", "python-3.10.12\n")
    spec = detect_env(tmp_path)
    assert (spec.python_version, spec.python_source) == ("3.10.12", "runtime.txt")
    write(tmp_path, ".python-version", "3.9.18\n")
    spec = detect_env(tmp_path)
    assert (spec.python_version, spec.python_source) == ("3.9.18", ".python-version")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # pyenv: a virtualenv made from a version, dev and free-threaded builds, PyPy, several
        (".python-version", "3.10.12/envs/audio\n", "3.10.12"),
        (".python-version", "3.11-dev\n", "3.11"),
        (".python-version", "3.13t\n", "3.13"),
        (".python-version", "pypy3.10-7.3.12\n", "3.10"),
        (".python-version", "system\n3.9.18\n", "3.9.18"),
        (".python-version", "miniconda3-4.7.12\n", None),  # conda's version, not Python's
        (".python-version", "audio-env\n", None),
        # runtime.txt as students write it beside Heroku's `python-3.10.12`
        ("runtime.txt", "python3.10\n", "3.10"),
        ("runtime.txt", "3.11\n", "3.11"),
        ("runtime.txt", "Python 3.10.4\n", "3.10.4"),
    ],
)
def test_python_version_file_forms(
    tmp_path: Path, name: str, text: str, expected: str | None
) -> None:
    """Before, only `3.10.12` and `python-3.10.12` were read: `3.10.12/envs/audio` or
    `python3.10` left the default Python, and a pin with no wheel for it failed the build."""
    write(tmp_path, "requirements.txt", "numpy\n")
    write(tmp_path, name, text)
    spec = detect_env(tmp_path)
    assert spec.python_version == expected
    assert spec.python_source == (name if expected else None)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ("3.11", None)),
        ("3.10", ("3.10", None)),
        ("3.10.12", ("3.10", None)),
        (">=3.9", ("3.11", None)),
        (">=3.8,<3.11", ("3.10", None)),
        ("~=3.10.0", ("3.10", None)),
        ("==3.12.*", ("3.12", None)),
        ("3.7", ("3.10", "Python 3.7 requested but not available; using 3.10")),
        ("<3.8", ("3.10", "Python <3.8 requested but not available; using 3.10")),
        ("banana", ("3.11", "Python version 'banana' not understood; using 3.11")),
    ],
)
def test_choose_python(spec: str | None, expected: tuple[str, str | None]) -> None:
    assert choose_python(spec, ["3.10", "3.11", "3.12"], "3.11") == expected


def test_evaluate_pass_summary_and_unpinned(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "numpy==1.26.0\nscipy\n")
    spec = detect_env(tmp_path)
    verdict = evaluate_env_file(spec, model.Params())
    assert verdict.status is model.Status.PASS
    assert verdict.summary == "requirements.txt at the repository root (2 requirements)"
    assert verdict.details == spec_to_json(spec)
    strict = evaluate_env_file(spec, model.Params({"warn_unpinned": True}))
    assert strict.status is model.Status.WARN
    assert "scipy" in strict.summary


def test_content_hash_tracks_dependency_files_only(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r requirements/base.txt\nnumpy\n")
    write(tmp_path, "requirements/base.txt", "scipy\n")
    write(tmp_path, "train.py", "print('hi')\n")
    first = content_hash(detect_env(tmp_path), tmp_path)
    assert content_hash(detect_env(tmp_path), tmp_path) == first
    write(tmp_path, "train.py", "print('changed')\n")
    assert content_hash(detect_env(tmp_path), tmp_path) == first
    write(tmp_path, "requirements/base.txt", "scipy  # now with a comment\n")
    changed = content_hash(detect_env(tmp_path), tmp_path)
    assert changed != first
    spec = detect_env(tmp_path)
    other = EnvSpec(**{**spec.__dict__, "python_version": "3.10"})
    assert content_hash(other, tmp_path) != changed


# --- never raise --------------------------------------------------------------------------------

_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(_yaml_values, st.fixed_dictionaries({"dependencies": st.lists(_yaml_values)})))
def test_translate_conda_never_raises(doc: object) -> None:
    translate_conda(doc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_sanitize_and_conda_entry_never_raise(line: str) -> None:
    sanitize_requirement(line)
    translate_conda({"dependencies": [line]})
    poetry_constraint_to_pip(line)
    choose_python(line, ["3.10", "3.11"], "3.11")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(
        ["requirements.txt", "pyproject.toml", "environment.yml", "Pipfile", "setup.py"]
    ),
    st.text(max_size=200),
)
def test_detect_env_never_raises_on_garbage(tmp_path: Path, name: str, text: str) -> None:
    repo = tmp_path / "fuzz"
    repo.mkdir(exist_ok=True)
    for child in repo.iterdir():
        child.unlink()
    (repo / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    spec = detect_env(repo)
    evaluate_env_file(spec, model.Params())
    content_hash(spec, repo)


_toml_scalar = st.text(max_size=15) | st.booleans() | st.integers(-5, 5)
_toml_value = (
    _toml_scalar
    | st.lists(_toml_scalar, max_size=4)
    | st.dictionaries(
        st.sampled_from(["version", "extras", "markers", "optional", "path", "git", "tag"]),
        _toml_scalar | st.lists(st.text(max_size=5), max_size=2),
        max_size=4,
    )
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(st.text(min_size=1, max_size=8), _toml_value, max_size=5),
    st.sampled_from(["project", "tool.poetry", "build-system", "packages"]),
    _toml_value,
)
def test_structured_pyproject_and_pipfile_never_raise(
    tmp_path: Path, deps: dict[str, object], table: str, requires_python: object
) -> None:
    body = "\n".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in deps.items())
    text = (
        f'[{table}]\nname = "x"\nrequires-python = {_toml(requires_python)}\n'
        f"dependencies = {_toml(list(deps))}\n"
        f"[{table}.dependencies]\n{body}\n"
    )
    for name in ("pyproject.toml", "Pipfile"):
        repo = tmp_path / "toml"
        repo.mkdir(exist_ok=True)
        for child in repo.iterdir():
            child.unlink()
        (repo / name).write_text(text)
        spec = detect_env(repo)
        evaluate_env_file(spec, model.Params())
        spec_to_json(spec)
