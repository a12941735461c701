"""Cleaning text that one peer wrote and others will see: one line of printable Unicode, bounded.

Player text (chat, guild chat, a guild's message of the day) goes from one player's client
to other players' screens. Whatever the sender put in it, what is shown must not act on the
reader's terminal or fool the reader: no control characters (a newline could start a line
that looks like a server notice), no terminal escape sequences (clear screen, window title,
an OSC 52 clipboard write), no bidirectional overrides or other invisible format characters
(which reorder or hide what is shown). Printable Unicode in any script, emoji included, stays.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["MAX_COMBINING", "clean_text"]

MAX_COMBINING = 4
"""Combining marks kept after one base character (more only stack up into unreadable "zalgo")."""

# A terminal escape sequence, introduced by ESC (7-bit) or by its 8-bit C1 form:
# CSI (ESC [ or U+009B) parameters and a final byte; OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ or
# U+009D U+0090 U+0098 U+009E U+009F) up to BEL or ST (ESC \ or U+009C), or to the end of
# the text when unterminated; ESC followed by any one character.
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b.?",
    re.DOTALL,
)
_SPACES = re.compile(r"\s+")

# Format characters (Cf) that some scripts and emoji need to render right and that cannot
# reorder or hide text: zero-width non-joiner and joiner.
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})


@lru_cache(maxsize=4096)
def _kind(char: str) -> str:
    """What to do with one character: keep it ("k"), drop it ("d"), make it a space ("s"),
    or keep it as a combining mark ("m")."""
    if char.isspace():
        return "s"  # newline, tab, line/paragraph separators, no-break and wide spaces
    category = unicodedata.category(char)
    if category in ("Cc", "Cs") or (category == "Cf" and char not in _KEPT_FORMAT):
        return "d"  # controls, lone surrogates, bidi overrides and other invisible formatting
    if category in ("Mn", "Me"):
        return "m"
    return "k"


def clean_text(text: str, max_chars: int, *, squeeze: bool = True) -> str:
    """``text`` as one line of printable characters, at most ``max_chars`` long.

    Escape sequences are removed whole; other control and format characters are dropped;
    any run of whitespace (newlines included) becomes one space, and the ends are trimmed;
    a base character keeps at most ``MAX_COMBINING`` combining marks. Plain text comes back
    unchanged (apart from the trimming and the length). With ``squeeze=False`` (for showing
    a line that is already laid out) each whitespace character becomes one space and runs and
    ends are kept.
    """
    if max_chars <= 0:
        return ""
    text = _ESCAPE.sub("", text[: max_chars * 8])  # what could survive is bounded up front
    out: list[str] = []
    marks = 0
    for char in text:
        kind = _kind(char)
        if kind == "k":
            out.append(char)
            marks = 0
        elif kind == "m":
            if out and marks < MAX_COMBINING:
                out.append(char)
                marks += 1
        elif kind == "s":
            out.append(" ")
            marks = 0
    if not squeeze:
        return "".join(out)[:max_chars]
    cleaned = _SPACES.sub(" ", "".join(out)).strip()
    return cleaned[:max_chars].rstrip()
