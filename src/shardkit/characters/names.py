"""Name rules for characters and guilds: length, characters, reserved and offensive words.

Each refusal comes with a reason.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from shardkit.wire.rpc import RpcError

CHARACTER_MIN, CHARACTER_MAX = 3, 16
GUILD_MIN, GUILD_MAX = 3, 24

# Staff and system words: refused as a whole name...
RESERVED = frozenset({
    "admin", "administrator", "gm", "gamemaster", "moderator", "mod", "system", "server",
    "support", "staff", "shardkit", "everyone", "nobody", "guild",
})
# ...and anywhere inside one, so nobody can pass for staff ("AdminBob", "Gamemasterx").
RESERVED_PARTS = frozenset({"admin", "gamemaster", "moderator"})

_CHARACTER = re.compile(r"^[A-Za-z'-]+$")
_GUILD = re.compile(r"^[A-Za-z' -]+$")
_DOUBLED = re.compile(r"['\- ]{2}")
_FOLDED_AWAY = str.maketrans("", "", "'-")


@cache
def blocked_words() -> frozenset[str]:
    """The offensive words of the shipped list (package data ``blocked_names.txt``)."""
    text = resources.files("shardkit.characters").joinpath("blocked_names.txt").read_text("utf-8")
    words = (line.strip().casefold() for line in text.splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


def _folded(name: str) -> str:
    """The name as the word checks see it: case-folded, without ' and -.

    Spaces stay, as word breaks.
    """
    return name.casefold().translate(_FOLDED_AWAY)


def _common_problem(name: str) -> str | None:
    folded = _folded(name)
    if name.casefold() in RESERVED or folded in RESERVED:
        return f"'{name}' is reserved"
    if any(part in folded for part in RESERVED_PARTS):
        return f"'{name}' is reserved: it looks like a staff name"
    if any(word in folded for word in blocked_words()):
        return f"'{name}' is not allowed: it contains an offensive word"
    return None


def character_name_problem(name: str) -> str | None:
    """Why a character name is refused, or None if it is fine."""
    if not CHARACTER_MIN <= len(name) <= CHARACTER_MAX:
        return f"character names are {CHARACTER_MIN} to {CHARACTER_MAX} characters long"
    if not _CHARACTER.fullmatch(name):
        return "character names use only the letters A-Z, ' and -"
    if not (name[0].isalpha() and name[-1].isalpha()):
        return "character names start and end with a letter"
    if _DOUBLED.search(name):
        return "character names have no ' or - next to each other"
    return _common_problem(name)


def guild_name_problem(name: str) -> str | None:
    """Why a guild name is refused, or None if it is fine."""
    if not GUILD_MIN <= len(name) <= GUILD_MAX:
        return f"guild names are {GUILD_MIN} to {GUILD_MAX} characters long"
    if not _GUILD.fullmatch(name):
        return "guild names use only the letters A-Z, spaces, ' and -"
    if not (name[0].isalpha() and name[-1].isalpha()):
        return "guild names start and end with a letter"
    if _DOUBLED.search(name):
        return "guild names have no two spaces, ' or - next to each other"
    return _common_problem(name)


def check_character_name(name: str) -> None:
    """Refuse a character name that breaks the rules: ``bad_name``, saying which rule."""
    problem = character_name_problem(name)
    if problem:
        raise RpcError("bad_name", problem)


def check_guild_name(name: str) -> None:
    """Refuse a guild name that breaks the rules: ``bad_name``, saying which rule."""
    problem = guild_name_problem(name)
    if problem:
        raise RpcError("bad_name", problem)
