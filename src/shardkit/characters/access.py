"""Who may ask the character server about what: a daemon only about its own world."""

from __future__ import annotations

from shardkit.wire.rpc import RpcConnection, RpcError


def own_world(conn: RpcConnection, world: str) -> None:
    """Refuse with ``forbidden`` unless ``world`` is the calling daemon's world."""
    assert conn.identity is not None
    if world != conn.identity.name:
        raise RpcError("forbidden", f"daemon of '{conn.identity.name}' asked about '{world}'")
