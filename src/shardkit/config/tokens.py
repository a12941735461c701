"""Random tokens a person may paste into a command line: URL-safe and never starting with '-'."""

from __future__ import annotations

import secrets


def pasteable_token(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)`` redrawn until it does not start with ``-``.

    A generated password or key that starts with ``-`` is read as an option by most tools
    (``ssh``, ``tmux``, ``shardkit ... --key``); redrawing keeps the full entropy of the rest.
    """
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token
