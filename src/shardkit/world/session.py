"""What a WorldServer keeps about each player's connection: its ticket, its character in play."""

from __future__ import annotations

from dataclasses import dataclass

from shardkit.wire.peers import SessionSlot
from shardkit.wire.rpc import RpcConnection, RpcError


@dataclass
class WorldSession:
    """One player's connection to this WorldServer (``conn.session``)."""

    ticket_expires_at: float = 0.0  # of its world ticket: tells a kick's target old from new
    character_id: int | None = None  # the character it entered the game with
    character: str = ""
    zone: str = ""  # where that character plays

    def active_character(self) -> int:
        """The id of the character this player entered the game with, or ``not_in_game``."""
        if self.character_id is None:
            raise RpcError("not_in_game", "enter the game with a character first")
        return self.character_id


sessions: SessionSlot[WorldSession] = SessionSlot(WorldSession)


def session_of(conn: RpcConnection) -> WorldSession:
    """The player's session (made at ``ticket_login``)."""
    return sessions.of(conn)


def account_of(conn: RpcConnection) -> int:
    """The account a logged-in player's connection speaks for."""
    assert conn.identity is not None and conn.identity.account_id is not None
    return conn.identity.account_id
