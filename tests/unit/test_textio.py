"""The one decoder for student text: BOMs, UTF-8, the reported fallback, and its users."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from repograder import comments, fsutil, readme, textio

TEXT = "numpy==1.26.4\r\ncolorama==0.4.6\r\n"


@pytest.mark.parametrize(
    ("data", "encoding", "note_part"),
    [
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le", "PowerShell"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be", "UTF-16 BE"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8", "byte-order mark"),
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "utf-32-le", "UTF-32 LE"),
        (codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), "utf-32-be", "UTF-32 BE"),
        (TEXT.encode("utf-16-le"), "utf-16-le", "without a byte-order mark"),
    ],
)
def test_bom_and_utf16_decoded_and_reported(data: bytes, encoding: str, note_part: str) -> None:
    decoded = textio.decode(data)
    assert decoded.text == "numpy==1.26.4\ncolorama==0.4.6\n"
    assert decoded.encoding == encoding
    assert decoded.note is not None
    assert note_part in decoded.note


def test_plain_utf8_has_no_note() -> None:
    decoded = textio.decode("# Größe\nx = 1\n".encode())
    assert (decoded.text, decoded.encoding, decoded.note) == ("# Größe\nx = 1\n", "utf-8", None)


def test_utf8_cut_by_the_size_cap_is_still_utf8() -> None:
    data = "ä" * 10
    decoded = textio.decode(data.encode()[:-1])
    assert decoded.encoding == "utf-8"
    assert decoded.text == "ä" * 9


def test_windows_1252_and_latin1_fallbacks_are_reported() -> None:
    cp = textio.decode("# Größe – “quoted”\n".encode("cp1252"))
    assert cp.text == "# Größe – “quoted”\n"
    assert cp.encoding == "cp1252"
    assert cp.note
    assert "Windows-1252" in cp.note
    # 0x81 is undefined in Windows-1252: Latin-1 reads every byte
    latin = textio.decode(b"# caf\xe9 \x81\n")
    assert latin.encoding == "latin-1"
    assert latin.text == "# caf\xe9 \x81\n"


def test_lines_appended_by_powershell_in_utf16_are_read() -> None:
    """`echo librosa >> requirements.txt` in Windows PowerShell 5.1 appends UTF-16 LE to a UTF-8
    file. Before, the appended lines were NUL-riddled and dropped as "contains a control
    character": the build lacked librosa and the notebooks failed on its import."""
    data = (
        "numpy==1.26.4  # größer\r\n".encode()
        + "librosa\r\n".encode("utf-16-le")
        + codecs.BOM_UTF16_LE
        + "soundfile  # für WAV\r\n".encode("utf-16-le")
    )
    decoded = textio.decode(data)
    assert decoded.text == "numpy==1.26.4  # größer\nlibrosa\nsoundfile  # für WAV\n"
    assert decoded.note is not None
    assert "partly UTF-16 LE" in decoded.note
    # the same appended to a Windows-1252 file
    cp1252 = "# Größe\r\n".encode("cp1252") + "six\r\n".encode("utf-16-le")
    assert textio.decode(cp1252).text == "# Größe\nsix\n"
    assert textio.decode(b"plain\n").note is None


def test_an_lfs_pointer_is_flagged_not_taken_for_the_file() -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 9\n"
    decoded = textio.decode(pointer)
    assert decoded.lfs_pointer
    assert decoded.text.startswith("version https://git-lfs")
    assert not textio.decode(b"version 1.0\n").lfs_pointer


def test_read_refuses_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(codecs.BOM_UTF16_LE + "x\n".encode("utf-16-le"))
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    assert textio.read(tmp_path, "link.txt") is None
    decoded = textio.read(tmp_path, "real.txt")
    assert decoded is not None
    assert decoded.text == "x\n"


def test_fsutil_read_text_goes_through_the_decoder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(codecs.BOM_UTF16_LE + "héllo\r\n".encode("utf-16-le"))
    assert fsutil.read_text(tmp_path, "a.txt") == "héllo\n"


def test_utf16_readme_gives_its_steps(tmp_path: Path) -> None:
    body = (
        "# Project\n\n## Setup\n\n```bash\npip install -r requirements.txt\npython main.py\n```\n"
    )
    (tmp_path / "README.md").write_bytes(codecs.BOM_UTF16_LE + body.encode("utf-16-le"))
    facts = readme.inspect_readme(tmp_path)
    assert [s.command for s in facts.steps] == ["pip install -r requirements.txt", "python main.py"]


def test_utf16_source_comments_are_counted(tmp_path: Path) -> None:
    source = '# Berechnet die Größe\ndef f():\n    """Gibt die Länge zurück."""\n    return 1\n'
    (tmp_path / "mod.py").write_bytes(codecs.BOM_UTF16_LE + source.encode("utf-16-le"))
    facts = comments.measure_comments(tmp_path)
    [measured] = [f for f in facts.files if f.path == "mod.py"]
    assert measured.comment_lines >= 1
    assert measured.docstring_lines >= 1


def test_windows_1252_notebook_is_measured(tmp_path: Path) -> None:
    nb = (
        '{"cells": [{"cell_type": "code", "metadata": {}, "source": ["# Größe\\n", "x = 1"],'
        ' "outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4,'
        ' "nbformat_minor": 5}'
    )
    (tmp_path / "nb.ipynb").write_bytes(nb.encode("cp1252"))
    facts = comments.measure_comments(tmp_path)
    assert [f.path for f in facts.files] == ["nb.ipynb"]


def test_notebook_executor_reads_through_the_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor script as run_helper runs it has the decoder as `rg_textio`."""
    import importlib.util
    import sys
    from importlib import resources

    from repograder import notebooks

    script = notebooks.executor_script()
    registration, marker, _ = script.rpartition("exec(compile(")
    assert marker
    assert "rg_textio" in registration
    monkeypatch.delitem(sys.modules, "rg_textio", raising=False)
    exec(registration, {})  # what the helper runs before the executor itself
    assert "rg_textio" in sys.modules
    path = Path(str(resources.files("repograder").joinpath("data/nbexec.py")))
    spec = importlib.util.spec_from_file_location("nbexec_copy", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nb = tmp_path / "nb.ipynb"
    nb.write_bytes('{"cells": [], "metadata": {"title": "Größe"}}'.encode("cp1252"))
    assert module.read_notebook_text(str(nb)) == '{"cells": [], "metadata": {"title": "Größe"}}'
