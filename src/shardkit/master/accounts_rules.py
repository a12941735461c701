"""Account name and password rules, shared by the master (names) and clients (passwords)."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{2,19}$"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_NAME = re.compile(NAME_PATTERN)

#: Names nobody may register (compared case-insensitively): they would pass for staff.
RESERVED_NAMES = frozenset({
    "admin", "administrator", "root", "system", "server", "master", "gm", "gamemaster",
    "moderator", "mod", "support", "staff", "shardkit",
})


def name_problem(name: str) -> str | None:
    """Why an account name is not allowed, or None if it is."""
    if not _NAME.fullmatch(name):
        return "names are 3-20 letters, digits or _, starting with a letter"
    if name.casefold() in RESERVED_NAMES:
        return f"'{name}' is reserved; pick another name"
    return None


def password_problem(password: str, name: str = "") -> str | None:
    """Why a password is not allowed, or None.

    Checked by the client: the password never leaves it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"passwords need at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"passwords may have at most {MAX_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "passwords may not start or end with spaces"
    if name and password.casefold() == name.casefold():
        return "the password may not be the account name"
    return None
