"""The character server's side of the content check: which content version it stores characters for."""

from __future__ import annotations

from shardkit.wire.rpc import RpcConnection, rpc


class ContentInfo:
    """Daemons ask this before admitting WorldServers, so a save never names unknown zones or items."""

    def __init__(self, version: str) -> None:
        self.version = version

    @rpc("content_version", roles=("daemon",))
    def content_version(self, conn: RpcConnection) -> str:
        """The content version (hash of the content files) this character server runs with."""
        return self.version
