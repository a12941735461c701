"""The players on a WorldServer: one connection per account, and which entry may play."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from shardkit.runtime.turns import KeyedTurns
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.world.notifications import Kicked
from shardkit.world.session import sessions

log = logging.getLogger("shardkit.world")


class Players:
    """Account -> the player's connection here; a newer login of the account replaces the older.

    ``playing`` holds each account's latest ``enter_game`` here (its zone and session): the one
    entry that may load a character (``check_entry``). ``on_count`` is told the player count
    whenever it changes.
    """

    def __init__(self, on_count: Callable[[int], None] = lambda n: None) -> None:
        self.by_account: dict[int, RpcConnection] = {}
        self.playing: dict[int, tuple[str, RpcConnection]] = {}
        self.entering = KeyedTurns()  # one enter_game per account at a time
        self.on_count = on_count

    def __len__(self) -> int:
        return len(self.by_account)

    def __iter__(self) -> Iterator[RpcConnection]:
        return iter(list(self.by_account.values()))

    def get(self, account_id: int) -> RpcConnection | None:
        return self.by_account.get(account_id)

    def named(self, account_name: str) -> RpcConnection | None:
        """The connection of the account with this name (any case), if it is here."""
        folded = account_name.casefold()
        for conn in self:
            if conn.identity is not None and conn.identity.name.casefold() == folded:
                return conn
        return None

    def in_zone(self, zone: str) -> list[RpcConnection]:
        """The players whose character plays in ``zone``."""
        return [conn for conn in self if (s := sessions.get(conn)) is not None and s.zone == zone]

    def joined(self, conn: RpcConnection, account_id: int) -> None:
        old = self.by_account.get(account_id)
        if old is not None and old is not conn:
            notify(old, Kicked("logged in from elsewhere"))
            old.close("replaced by a newer login")
        self.by_account[account_id] = conn
        conn.on_close(lambda c: self._left(account_id, c))
        self.on_count(len(self))

    def _left(self, account_id: int, conn: RpcConnection) -> None:
        if self.by_account.get(account_id) is conn:
            del self.by_account[account_id]
            self.playing.pop(account_id, None)  # its unused zone tickets let nobody in now
        self.on_count(len(self))

    def start_playing(self, account_id: int, zone: str, conn: RpcConnection) -> None:
        """The account's latest entry: only ``zone``, for this session, may load its character."""
        if self.by_account.get(account_id) is not conn:
            raise RpcError("closed", "this session ended while entering the game")
        self.playing[account_id] = (zone, conn)

    def check_entry(self, zone_link: RpcConnection, account_id: int) -> None:
        """Refuse a zone's load for an account whose latest entry here is not for that zone.

        So a zone ticket from an earlier enter_game (another zone), or from a session that has
        since ended or been kicked, cannot put a second character of the account in play.
        """
        zone = zone_link.identity.name if zone_link.identity else ""
        entry = self.playing.get(account_id)
        if entry is None or entry[0] != zone or self.by_account.get(account_id) is not entry[1]:
            raise RpcError("already_playing",
                           "this account entered the game elsewhere since; enter the game again")
