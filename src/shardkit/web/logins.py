"""Who logged in over a bridge session: the master's own answer to ``login_finish``.

The dashboard serves its figures only to a session whose master link logged in an account
with role ``admin``. The bridge learns that the way it learns addresses (``targets``): it
reads the master's answer on a connection it dialed itself, to a ``login_finish`` the browser
sent on it, so a browser cannot claim a role; and the role lasts only while that link is open
(a kick, a ban or a new login elsewhere closes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

__all__ = ["LoggedIn", "LoginWatch"]

_REQUEST = b"\x94\x00"
_RESPONSE = b"\x94\x01"
METHOD = "login_finish"


@dataclass(frozen=True)
class LoggedIn:
    account_id: int
    name: str
    role: str


class LoginWatch:
    """On one master link: the msgid of the browser's ``login_finish``, and the account in the
    master's answer to it."""

    def __init__(self) -> None:
        self._waiting: int | None = None

    def browser_sent(self, frame: bytes) -> None:
        if not frame.startswith(_REQUEST) or METHOD.encode() not in frame:
            return
        message = _decode(frame)
        if isinstance(message, list) and len(message) == 4 and message[2] == METHOD \
                and isinstance(message[1], int):
            self._waiting = message[1]

    def server_sent(self, frame: bytes) -> LoggedIn | None:
        """The account this answer logged in, if it is the answer to our login_finish."""
        if self._waiting is None or not frame.startswith(_RESPONSE):
            return None
        message = _decode(frame)
        if not (isinstance(message, list) and len(message) == 4 and message[1] == self._waiting):
            return None
        self._waiting = None
        _, _, error, result = message
        account = result.get("account") if error is None and isinstance(result, dict) else None
        if not isinstance(account, dict):
            return None
        account_id, name, role = (account.get(k) for k in ("account_id", "name", "role"))
        if isinstance(account_id, int) and isinstance(name, str) and isinstance(role, str):
            return LoggedIn(account_id, name[:64], role[:16])
        return None


def _decode(frame: bytes) -> object:
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException, TypeError):
        return None
