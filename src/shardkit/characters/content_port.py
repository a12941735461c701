"""The character server's side of the content check: the content version of its characters."""

from __future__ import annotations

from shardkit.wire.rpc import RpcConnection, rpc


class ContentInfo:
    """Asked by daemons before admitting WorldServers: no save may name unknown zones or items."""

    def __init__(self, version: str) -> None:
        self.version = version

    @rpc("content_version", roles=("daemon",))
    def content_version(self, conn: RpcConnection) -> str:
        """The content version (hash of the content files) this character server runs with."""
        return self.version
