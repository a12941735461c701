"""A planned stop said out loud: a service tells its linked peers it is stopping before it closes.

The goodbye is an ordinary ``error`` notification with code ``shutting_down``, which every
MessagePack-RPC peer already accepts and never answers. The side that receives it marks the
connection (``peer_stopping``), so when the connection then closes its links log a planned
stop, not a lost link, and a re-dial that finds nobody listening yet is not a warning either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shardkit.wire.connection import RpcConnection

SHUTTING_DOWN = "shutting_down"


def say_goodbye(conn: RpcConnection, who: str) -> None:
    """Tell a service peer we are stopping on purpose (players are told by their own notices)."""
    conn.said_goodbye = True
    if conn.is_service and not conn.closed.is_set():
        conn.notify("error", {"code": SHUTTING_DOWN, "message": f"{who} is stopping"})
