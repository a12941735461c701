"""Character name rules: length, allowed characters, reserved words."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z][A-Za-z'-]{2,15}$")
RESERVED = frozenset({"admin", "administrator", "gm", "gamemaster", "moderator", "system", "server"})


def character_name_problem(name: str) -> str | None:
    """Why a character name is refused, or None if it is fine."""
    if not _NAME.match(name):
        return "character names are 3-16 letters (and ' or -), starting with a letter"
    if name.casefold() in RESERVED:
        return f"'{name}' is reserved"
    return None
