"""CharacterServer process: the one store of characters, serving every world's daemon (7001)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from shardkit.characters.access import check_daemon
from shardkit.characters.audit import AuditTrail
from shardkit.characters.claims import Claims
from shardkit.characters.content_port import ContentInfo
from shardkit.characters.gm_characters import GMCharacters
from shardkit.characters.gm_relay import GMMasterForwarding, GMWorldRelay, world_route
from shardkit.characters.gm_service import GMService
from shardkit.characters.guilds import GuildService
from shardkit.characters.metrics import CharacterMetrics, MeteredSaves
from shardkit.characters.service import CharacterService
from shardkit.characters.transfer import TransferSaves
from shardkit.config.settings import Settings
from shardkit.content import ContentError, content_dir, content_version, load_content
from shardkit.gm.api import GMAuditApi
from shardkit.master.api import MasterServiceApi
from shardkit.master.notifications import WorldAnnounced
from shardkit.master.schemas import DaemonAddress
from shardkit.runtime.main import announce
from shardkit.runtime.parent_watch import ORPHAN_GRACE_S, orphaned
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.store import characters as store
from shardkit.store.character_search import CharacterSearch
from shardkit.store.database import Database
from shardkit.store.guilds import GuildStore
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, rpc

log = logging.getLogger("shardkit.characters")

ORPHAN_DRAIN_S = 0.6 * ORPHAN_GRACE_S
"""How long an orphaned character server waits for the daemons' last saves (the rest of its
grace is for committing them)."""


def content_items(directory: Path) -> frozenset[str]:
    """The item ids of the content (none if it cannot be read: WorldServers refuse it too)."""
    try:
        return frozenset(load_content(directory).items)
    except ContentError as exc:
        log.error("content items unknown, so GMs can give none: %s", quote(str(exc), 400))
        return frozenset()


class MasterEvents:
    """Notifications the master sends the character server."""

    def __init__(self, link_daemon: Callable[[DaemonAddress], None]) -> None:
        self.link_daemon = link_daemon

    @rpc("world_announced", WorldAnnounced, roles=("master",))
    def world_announced(self, conn: RpcConnection, p: WorldAnnounced) -> None:
        """A world was announced: link to its daemon's character port."""
        self.link_daemon(DaemonAddress(p.world, p.host, p.port))


class DaemonLinks:
    """The character server's links to every world's daemon, one per world, each checked once."""

    def __init__(self, settings: Settings, router: Router, claims: Claims) -> None:
        self.settings = settings
        self.router = router
        self.claims = claims
        self.links: dict[str, ServiceLink] = {}

    def linked(self) -> int:
        """How many worlds' daemons are linked now."""
        return sum(1 for link in self.links.values() if link.conn is not None)

    def linked_worlds(self) -> list[str]:
        """The worlds whose daemon is linked now, by name."""
        return sorted(world for world, link in self.links.items() if link.conn is not None)

    def link(self, address: DaemonAddress) -> None:
        """Link to ``address`` for its world (replacing a link to an older address)."""
        current = self.links.get(address.world)
        if current is not None and (current.host, current.port) == (address.host, address.port):
            return
        if current is not None:
            background(current.stop())
        self.claims.release_world(address.world)
        world = address.world

        async def check(conn: RpcConnection) -> None:
            check_daemon(conn, world)

        link = ServiceLink(
            address.host, address.port, role="characters", name="characters",
            secret=self.settings.secrets.key("characters_link"), peer_role="daemon",
            router=self.router, on_up=check,
        )
        self.links[world] = link
        link.start()
        log.info("linking to the daemon of %s at %s:%s", quote(world), quote(address.host),
                 address.port)

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until every linked daemon has closed its link: a daemon
        closes it once its WorldServers have stopped, so their last saves are in by then."""
        open_links = [link.conn.closed.wait() for link in self.links.values()
                      if link.conn is not None and not link.conn.closed.is_set()]
        if open_links:
            await asyncio.wait([asyncio.ensure_future(c) for c in open_links], timeout=timeout)

    async def stop(self) -> None:
        for link in self.links.values():
            await link.stop()


class CharacterServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.claims = Claims()
        self.metrics = CharacterMetrics()
        self.metrics.live_gauge("shardkit_characters_in_play", "Characters in play (claimed).",
                                lambda: {(): len(self.claims)})
        self._daemons: DaemonLinks | None = None  # once running
        self.metrics.live_gauge("shardkit_characters_daemon_links",
                                "Worlds whose daemon the character server is linked to.",
                                lambda: {(): self._daemons.linked() if self._daemons else 0})
        directory = content_dir(settings.server.cluster.content_dir, settings.root)
        self.content = ContentInfo(content_version(directory))
        self.items = content_items(directory)  # what a GM may give

    async def run(self, stop: asyncio.Event) -> int:
        settings = self.settings
        url = settings.database_url(settings.server.characters.database_url, "characters.db")
        db = await Database.open(url, schema="characters")
        characters = store.CharacterStore(db)
        guilds = GuildStore(db)
        batcher = store.SaveBatcher(characters, on_commit=self.metrics.committed)
        batcher.start()
        saves = MeteredSaves(batcher, self.metrics)
        secret = settings.secrets.key("characters_link")
        audit = AuditTrail()  # to the GM server, once its link exists (below)
        daemons = DaemonLinks(settings, Router.for_services(
            CharacterService(characters, saves, guilds, self.claims, audit,
                             max_per_account=settings.server.characters.max_per_account),
            GuildService(guilds, audit), self.content, TransferSaves(saves, self.claims),
        ), self.claims)
        self._daemons = daemons

        async def on_master_up(conn: RpcConnection) -> None:
            for address in await MasterServiceApi(conn).daemons():
                daemons.link(address)

        master = settings.server.master
        master_link = ServiceLink(
            master.host, master.port, role="characters", name="characters", secret=secret,
            peer_role="master", router=Router.for_services(MasterEvents(daemons.link)),
            on_up=on_master_up,
        )
        gm = settings.server.gm
        gm_link = ServiceLink(
            gm.host, gm.port, role="characters", name="characters", secret=secret, peer_role="gm",
            router=Router.for_services(
                GMService(characters, restore_days=settings.server.characters.restore_days),
                GMCharacters(CharacterSearch(db), characters, saves, self.claims,
                             items=self.items, linked_worlds=daemons.linked_worlds),
                GMMasterForwarding(master_link),
                GMWorldRelay(route=world_route(daemons.links)),
            ),
        )
        audit.gm = GMAuditApi(gm_link)
        master_link.start()
        gm_link.start()
        announce(f"characters linking to master {master.host}:{master.port}"
                 f" and gm {gm.host}:{gm.port}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host,
                                           settings.server.characters.metrics_port, "characters")
        await stop.wait()
        log.info("character server stopping")
        if orphaned():  # the whole tree stops at once: let the daemons' last saves in first
            await daemons.drain(ORPHAN_DRAIN_S)
        await metrics.close()
        for link in [master_link, gm_link]:
            await link.stop()
        await daemons.stop()
        await batcher.close()
        await db.close()
        return 0
