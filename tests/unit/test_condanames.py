"""The conda -> PyPI name table is generated from conda-forge's mapping (issue 13, kind 2).

``src/repograder/condanames.py`` is the output of ``benchmarks/conda_names_gen.py``; these tests
hold the generator to the source's format (conda-pypi's ``grayskull_pypi_mapping.json``) and the
committed table to the generator's output, and check the translation uses it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from repograder import condanames, envparse
from repograder.envparse import translate_conda

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    path = ROOT / "benchmarks" / "conda_names_gen.py"
    spec = importlib.util.spec_from_file_location("conda_names_gen", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _generator()


def entry(pypi: str, conda: str, **extra: str) -> dict[str, str]:
    """One entry as the source writes it."""
    return {"pypi_name": pypi, "conda_name": conda, "import_name": pypi,
            "mapping_source": "regro-bot", **extra}  # fmt: skip


def test_invert_keeps_only_differing_names_and_resolves_collisions() -> None:
    source = {
        "numpy": entry("numpy", "numpy"),  # same name: no entry needed
        "typing-extensions": entry("typing-extensions", "typing_extensions"),  # PEP 503 equal
        "torch": entry("torch", "pytorch"),
        "0164e082b29777fbc56c2373b68da93d23a29a040787e7f1c65e1562f133": entry(
            "0164e082b29777fbc56c2373b68da93d23a29a040787e7f1c65e1562f133", "django-jsoneditor"
        ),  # the bot's placeholder for a project without a PyPI name
        "opencv-python": entry("opencv-python", "opencv"),
        "opencv-python-headless": entry("opencv-python-headless", "opencv"),
        "pyqt5": entry("pyqt5", "pyqt", delimiter_min="5.0.0", delimiter_max="6.0.0"),
        "pyqt4": entry("pyqt4", "pyqt", delimiter_min="4.0.0", delimiter_max="5.0.0"),
        "ipopt": entry("ipopt", "cyipopt"),  # another project maps here, but
        "cyipopt": entry("cyipopt", "cyipopt"),  # the same-named one keeps the name
    }
    names, ranged, count = gen.invert(source)
    assert names == {"opencv": "opencv-python", "pytorch": "torch"}
    assert ranged == {"pyqt": (("pyqt4", "4.0.0", "5.0.0"), ("pyqt5", "5.0.0", "6.0.0"))}
    assert count == len(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ([], "not a JSON object"),
        ({"torch": "pytorch"}, "torch: entry is not an object"),
        ({"torch": {"pypi_name": "torch"}}, "torch: missing or empty 'conda_name'"),
        ({"torch": entry("torch", "")}, "torch: missing or empty 'conda_name'"),
        ({"pyqt5": entry("pyqt5", "pyqt", delimiter_min="5")}, "pyqt5: delimiter_min/max"),
    ],
)
def test_a_changed_source_format_stops_the_generator(source: object, message: str) -> None:
    with pytest.raises(gen.SourceFormatError, match=re.escape(message)):
        gen.invert(source)


def test_the_committed_table_is_the_generators_output() -> None:
    """No hand edits: re-rendering the committed data gives the committed file byte for byte."""
    source = condanames.SOURCE
    assert source["dist"] == gen.SOURCE_DIST
    assert source["version"] == gen.SOURCE_VERSION
    assert source["member"] == gen.SOURCE_MEMBER
    assert re.fullmatch(r"[0-9a-f]{64}", str(source["sha256"]))
    assert isinstance(source["entries"], int)
    assert source["entries"] > 10_000
    text = (ROOT / "src" / "repograder" / "condanames.py").read_text(encoding="utf-8")
    assert gen.render(condanames.NAMES, condanames.RANGED, source) == text
    for conda, pypi in condanames.NAMES.items():
        assert gen.canonical(conda) != gen.canonical(pypi), conda


def test_hand_entries_are_only_names_the_data_lacks() -> None:
    hand = envparse._HAND_CONDA_TO_PYPI
    assert not set(hand) & set(condanames.NAMES)
    assert not set(hand) & set(condanames.RANGED)
    for conda, (pypi, why) in hand.items():
        assert gen.canonical(conda) != gen.canonical(pypi), conda
        assert why.strip(), conda


@pytest.mark.parametrize(
    ("entry_text", "expected"),
    [
        # from the data, none of them in the old hand list
        ("dask-core=2024.1", "dask==2024.1.*"),
        ("seaborn-base", "seaborn"),
        ("python-duckdb=0.9.2=py311h_0", "duckdb==0.9.2"),
        ("psycopg2", "psycopg2-binary"),
        ("libsvm-python", "libsvm"),  # a Python package, not a C library (the `lib` rule)
        # by version range
        ("pyqt=5.15.9", "pyqt5==5.15.9.*"),
        ("pyqt=4.11", "pyqt4==4.11.*"),
        ("pyqt", "pyqt5"),
        # hand entries, where the data has nothing
        ("py-xgboost=2.0", "xgboost==2.0.*"),
        ("brotli-python", "brotli"),
    ],
)
def test_conda_names_translate_through_the_generated_table(entry_text: str, expected: str) -> None:
    assert translate_conda({"dependencies": [entry_text]}).requirements == (expected,)


def test_every_platform_table_entry_names_a_documented_source() -> None:
    """platpkgs' rows cite one of the sources its docstring describes (PyPI rows are the ones
    benchmarks/platpkgs_scan.py re-measures)."""
    from repograder import platpkgs

    prefixes = ("PyPI: ", "PyPI metadata: ", "declared: ", "conda: ")
    assert platpkgs.__doc__ is not None
    for prefix in prefixes:
        assert f'"{prefix.strip(": ")}' in platpkgs.__doc__
    for name, known in platpkgs.table().items():
        assert known.source.startswith(prefixes), name
        assert known.reason, name
