"""Student text made harmless for a terminal or a plain-text sink: control characters visible.

A README line, a file name or a group name may carry escape sequences: OSC 52 writes the
clipboard (``ESC ] 52 ; c ; ... BEL``), OSC 0 sets the window title, ``ESC [ 2 J`` clears the
screen, a carriage return overwrites what was printed, and Unicode bidi controls (U+202E and
friends, the "Trojan Source" characters, CVE-2021-42574) reorder what a reader sees. Every
such character is shown as its escape (``\\x1b``, ``\\u202e``) instead; newlines and tabs stay.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (0x9b is an 8-bit CSI), and the bidi
# embedding/override/isolate marks and other invisible direction marks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every control character (except ``\\n`` and ``\\t``) and bidi mark
    replaced by its visible escape, e.g. ``"\\x1b]52;c;...\\x07"`` becomes ``\\x1b]52;c;...\\x07``
    as literal backslash text."""
    return _UNSAFE.sub(_visible, text)


def without_bidi(text: str) -> str:
    """``text`` with its bidi controls shown as escapes (for sinks that escape the rest)."""
    return _BIDI.sub(_visible, text)


def json_safe(json_text: str) -> str:
    """JSON text with the same characters written as ``\\uXXXX`` escapes (same meaning: in
    JSON text they can only occur inside strings), so printing it is terminal-safe too."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
