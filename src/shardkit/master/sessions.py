"""Live player sessions on the master: one per account, a second login replaces or is refused."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal

from shardkit.master.notifications import Kicked
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, RpcError

__all__ = ["SessionTable"]

log = logging.getLogger("shardkit.master")

REPLACED_TEXT = "logged in from elsewhere"


class SessionTable:
    """Account id -> the master connection logged in as that account."""

    def __init__(self, policy: Literal["replace", "refuse"] = "replace") -> None:
        self.policy = policy
        self._by_account: dict[int, RpcConnection] = {}

    def __len__(self) -> int:
        return len(self._by_account)

    def __iter__(self) -> Iterator[RpcConnection]:
        return iter(list(self._by_account.values()))

    def get(self, account_id: int) -> RpcConnection | None:
        conn = self._by_account.get(account_id)
        return None if conn is None or conn.closed.is_set() else conn

    def check_free(self, account_id: int) -> None:
        """Under the ``refuse`` policy: ``already_logged_in`` while the account has a session."""
        if self.policy == "refuse" and self.get(account_id) is not None:
            raise RpcError("already_logged_in",
                           "this account is logged in elsewhere; log out there first")

    def open(self, conn: RpcConnection, account_id: int) -> bool:
        """Make ``conn`` the account's session; True if it replaced a live one (which is kicked)."""
        self.check_free(account_id)
        old = self.get(account_id)
        replaced = old is not None and old is not conn
        if old is not None and replaced:
            notify(old, Kicked(REPLACED_TEXT))
            old.close("replaced by a newer login")
            log.info("session of account %s replaced by a login from %s", account_id, conn.peer_ip)
        self._by_account[account_id] = conn
        conn.on_close(lambda c: self._closed(account_id, c))
        return replaced

    def _closed(self, account_id: int, conn: RpcConnection) -> None:
        if self._by_account.get(account_id) is conn:
            del self._by_account[account_id]

    def close(self, account_id: int, reason: str) -> bool:
        """Tell the account's session why, and close it; False if it had none."""
        conn = self.get(account_id)
        if conn is None:
            return False
        notify(conn, Kicked(reason))
        conn.close(f"kicked: {reason}")
        return True

    def find(self, name: str) -> RpcConnection | None:
        """The session of the account called ``name`` (any letter case)."""
        key = name.casefold()
        for conn in self._by_account.values():
            if conn.identity is not None and conn.identity.name.casefold() == key:
                return conn
        return None
