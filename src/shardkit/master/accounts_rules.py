"""Account name and password rules, shared by the master (names) and clients (passwords)."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{2,19}$"
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(NAME_PATTERN)


def name_problem(name: str) -> str | None:
    """Why an account name is not allowed, or None if it is."""
    if not _NAME.match(name):
        return "names are 3-20 letters, digits or _, starting with a letter"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"passwords need at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "passwords may not start or end with spaces"
    return None
