"""The one decoder for student text files: byte-order marks, then UTF-8, then a reported fallback.

Students write files on Windows, macOS and Linux with whatever their editor or shell chose.
Windows PowerShell 5.1 writes ``pip freeze > requirements.txt`` as UTF-16 LE with a byte-order
mark (``>`` is ``Out-File``, whose default encoding there is "Unicode"; source: Microsoft,
about_Character_Encoding). Notepad before Windows 10 1903 saved "UTF-8" with a BOM and older
editors save Windows-1252. A careful human reads such a file as the student meant it; so does
:func:`decode`, and it says what it did so the report can tell the student.

Every reader of student text (environment files, README, source comments, notebooks, paper
sources) goes through :func:`decode` (``fsutil.read_text`` delegates here); :func:`read` adds
the safe, capped file read of :mod:`repograder.fsutil`. The module uses the standard library
only and Python 3.8 syntax: the notebook executor (``data/nbexec.py``) runs it inside the
sandbox with the student's Python to read the notebook it executes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LFS_NOT_FETCHED", "Decoded", "decode", "is_lfs_pointer", "matchable", "read"]

MATCH_LINE_CHARS = 300


def matchable(text: str, max_line: int = MATCH_LINE_CHARS) -> str:
    """``text`` (a step's or notebook's output) with every line cut to ``max_line`` characters,
    for pattern matching.

    The grader matches student output against many patterns (hints, missing libraries, the
    decisive line). A pattern that backtracks costs time quadratic in a line's length, and the
    regex engine holds the GIL: 64 KB of ``OSError`` on one line cost 35 s in which no other
    group's thread ran. No error message worth matching has a longer line.
    """
    if len(text) <= max_line:
        return text
    return "\n".join(line[:max_line] for line in text.split("\n"))


# Byte-order marks, longest first: UTF-32 LE's BOM starts with UTF-16 LE's (FF FE).
# Source: The Unicode Standard, section 23.8 "Specials", Table 23-5 (Unicode Encoding Form
# Signatures).
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE with a byte-order mark"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE with a byte-order mark"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with a byte-order mark (as Windows Notepad saves it)"),
    (
        codecs.BOM_UTF16_LE,
        "utf-16-le",
        "UTF-16 LE with a byte-order mark (as Windows PowerShell's `>` and Out-File write it)",
    ),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE with a byte-order mark"),
)
# The fallback for bytes that are not UTF-8: Windows-1252 (Western European, the default
# "ANSI" code page of English and most European Windows installations), else Latin-1, which
# decodes any byte sequence.
_FALLBACKS: tuple[tuple[str, str], ...] = (
    ("cp1252", "not UTF-8; read as Windows-1252 (Western European)"),
    ("latin-1", "not UTF-8; read as Latin-1 (ISO 8859-1)"),
)


# A Git LFS pointer is what git stores for a file tracked by Git LFS (git-lfs/docs/spec.md: the
# first line is `version https://git-lfs.github.com/spec/v1`). A checkout whose LFS objects could
# not be fetched (the student never pushed them, the host's LFS quota is used up) holds these
# three lines instead of the README, the requirements or the notebook: no reader may judge
# them as the student's text, and a human must fetch the content (issue 14, kind 2).
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
LFS_NOT_FETCHED = "is a Git LFS pointer; its content was not fetched"


def is_lfs_pointer(data: bytes) -> bool:
    """True when ``data`` is a Git LFS pointer file instead of the content it names."""
    return data.startswith(LFS_POINTER_PREFIX)


@dataclass(frozen=True)
class Decoded:
    """A decoded student file: text with ``\\n`` newlines and no BOM, and how it was read.

    ``encoding`` is the Python codec used ("utf-8", "utf-16-le", "cp1252", ...); ``note`` is
    None for plain UTF-8 and otherwise says what the file was and how it was read;
    ``lfs_pointer``: the bytes are a Git LFS pointer, not the file's content.
    """

    text: str
    encoding: str
    note: str | None = None
    bom: bool = False
    lfs_pointer: bool = False


def _normalise(text: str) -> str:
    text = text[1:] if text.startswith("\ufeff") else text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' for BOM-less UTF-16 of mostly ASCII text, else None.

    ASCII text in UTF-16 has a NUL in every other byte; real UTF-8 or Windows-1252 text has none.
    """
    sample = data[:4096]
    if len(sample) < 4 or b"\0" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def decode(data: bytes) -> Decoded:
    """Decode untrusted bytes: a BOM decides; else UTF-8; else Windows-1252 / Latin-1 (noted).

    Never raises. A multi-byte character cut by a size cap at the very end does not count as
    "not UTF-8". Newlines are normalised to ``\\n``.
    """
    if is_lfs_pointer(data):
        return Decoded(_normalise(data.decode("utf-8", "replace")), "utf-8", lfs_pointer=True)
    for bom, codec, what in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            return Decoded(_normalise(text), codec, f"{what}; read as such", bom=True)
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        text = data.decode(utf16, errors="replace")
        what = "UTF-16 LE" if utf16 == "utf-16-le" else "UTF-16 BE"
        return Decoded(_normalise(text), utf16, f"{what} without a byte-order mark; read as such")
    mixed = _appended_utf16(data)
    if mixed is not None:
        data = mixed
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        text = decoder.decode(data, final=False)  # a cut character at the end is not an error
    except UnicodeDecodeError:
        pass
    else:
        return Decoded(_normalise(text), "utf-8", _MIXED_NOTE if mixed is not None else None)
    for codec, note in _FALLBACKS:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if mixed is not None:
            note = f"{_MIXED_NOTE}; the rest {note}"
        return Decoded(_normalise(text), codec, note)
    raise AssertionError("latin-1 decodes every byte sequence")  # pragma: no cover


# Windows PowerShell 5.1's `>>` (Out-File -Append) writes UTF-16 LE whatever the file's encoding
# was (source: Microsoft, about_Character_Encoding), so `echo librosa >> requirements.txt` on a
# UTF-8 file appends `l\0i\0b\0…`: a run of Latin-1 characters each followed by a NUL, maybe
# after a byte-order mark. Real UTF-8 or Windows-1252 text has no NUL at all.
_UTF16LE_RUN = re.compile(b"(?:\xff\xfe)?(?:[\t\n\r\x20-\x7e\xa0-\xff]\x00){2,}")
_MIXED_NOTE = "partly UTF-16 LE (lines appended by Windows PowerShell's `>>`); read as such"


def _appended_utf16(data: bytes) -> bytes | None:
    """``data`` with its UTF-16 LE runs re-encoded as UTF-8; None when it has none."""
    if b"\0" not in data:
        return None

    def to_utf8(match: re.Match[bytes]) -> bytes:
        run = match.group(0)
        run = run[2:] if run.startswith(codecs.BOM_UTF16_LE) else run
        return run.decode("utf-16-le").encode("utf-8")

    fixed = _UTF16LE_RUN.sub(to_utf8, data)
    return None if fixed == data else fixed


def read(root: Path, rel: str | Path, max_bytes: int = 2_000_000) -> Decoded | None:
    """Read and decode at most ``max_bytes`` of ``root/rel``; None for links, specials, missing.

    The read itself is :func:`repograder.fsutil.read_bytes` (no symlink anywhere on the path,
    regular files only).
    """
    from repograder import fsutil  # imported here: this module also runs alone in the sandbox

    data = fsutil.read_bytes(root, rel, max_bytes)
    return None if data is None else decode(data)
