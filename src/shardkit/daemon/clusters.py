"""A daemon's registered WorldServers: their addresses and populations, and the content they run."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shardkit.daemon.schemas import RegisterCluster
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.daemon")


class ClusterRegistry:
    """Cluster number -> the WorldServer registered for it, while its link lasts.

    A WorldServer whose content differs from the character server's is refused (or dropped,
    once the character server's content becomes known), so a save never names zones or items
    the character store does not know. ``on_registered(number)`` runs after each registration.
    """

    def __init__(
        self, world: str, on_registered: Callable[[int], None] = lambda number: None
    ) -> None:
        self.world = world
        self.on_registered = on_registered
        self.clusters: dict[int, tuple[RpcConnection, RegisterCluster]] = {}
        self.populations: dict[int, int] = {}
        self.content_version: str | None = None  # the character server's, once it is linked

    def __len__(self) -> int:
        return len(self.clusters)

    def connections(self) -> list[RpcConnection]:
        """Every registered WorldServer's link."""
        return [conn for conn, _ in self.clusters.values()]

    def population(self) -> int:
        return sum(self.populations.values())

    def set_population(self, number: int, players: int) -> None:
        self.populations[number] = max(0, players)

    def _content_problem(self, p: RegisterCluster) -> str | None:
        if self.content_version is None or p.content_version == self.content_version:
            return None
        return (f"WorldServer {self.world}/{p.number} has content {p.content_version or 'unknown'}"
                f" but the character server has {self.content_version}; deploy the same content"
                " (cluster.content_dir) to both")

    def register(self, conn: RpcConnection, p: RegisterCluster) -> None:
        problem = self._content_problem(p)
        if problem:
            log.error("refused: %s", quote(problem, 300))
            raise RpcError("content_mismatch", problem)
        self.clusters[p.number] = (conn, p)
        self.populations.setdefault(p.number, 0)
        log.info("cluster %s of %s registered at %s:%s", p.number, self.world, quote(p.host),
                 p.port)

        def gone(_c: RpcConnection) -> None:
            if self.clusters.get(p.number, (None,))[0] is conn:
                del self.clusters[p.number]
                self.populations.pop(p.number, None)

        conn.on_close(gone)
        self.on_registered(p.number)

    def content_known(self, version: str) -> None:
        """The character server's content version: drop WorldServers that differ."""
        self.content_version = version
        for world_conn, registration in list(self.clusters.values()):
            problem = self._content_problem(registration)
            if problem:
                log.error("dropping: %s", quote(problem, 300))
                world_conn.notify("error", {"code": "content_mismatch", "message": problem})
                world_conn.close("content mismatch")

    def entry_point(self) -> tuple[str, int] | None:
        """Where clients reach the lowest-numbered registered WorldServer."""
        if not self.clusters:
            return None
        _, first = self.clusters[min(self.clusters)]
        return first.host, first.port

    def listing(self) -> list[tuple[int, RegisterCluster]]:
        return [(number, reg) for number, (_conn, reg) in sorted(self.clusters.items())]
