"""Whose world a call is about: the calling daemon's, from its authenticated link, never a param."""

from __future__ import annotations

from shardkit.wire.rpc import RpcConnection, RpcError


def link_world(conn: RpcConnection) -> str:
    """The world of the daemon on the other end of ``conn`` (its link identity's name).

    The character server checks that name once, when the link comes up (``check_daemon``), so
    every call on the link is about that world and no other.
    """
    assert conn.identity is not None
    return conn.identity.name


def check_daemon(conn: RpcConnection, world: str) -> None:
    """Refuse a link whose daemon is not the one the master announced for ``world``."""
    if conn.identity is None or conn.identity.name != world:
        name = conn.identity.name if conn.identity else "nobody"
        raise RpcError("forbidden", f"the daemon announced for '{world}' answers as '{name}'")
