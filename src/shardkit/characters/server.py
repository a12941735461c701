"""CharacterServer process: the one store of characters, serving every world's daemon over its 7001 port."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from shardkit.characters.access import own_world
from shardkit.characters.content_port import ContentInfo
from shardkit.characters.gm_service import GMService
from shardkit.characters.guilds import GuildService
from shardkit.characters.metrics import CharacterMetrics
from shardkit.characters.names import character_name_problem
from shardkit.characters.schemas import (
    CharacterRef,
    CharacterState,
    CharacterSummary,
    CreateCharacter,
    ListCharacters,
    RenameCharacter,
    SaveCharacter,
    SaveResult,
)
from shardkit.config.settings import Settings
from shardkit.content import content_dir, content_version
from shardkit.master.schemas import DaemonAddress, WorldAnnounced
from shardkit.runtime.main import announce
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.runtime.turns import KeyedTurns
from shardkit.store import characters as store
from shardkit.store.accounts import NameTaken
from shardkit.store.database import Database
from shardkit.store.guilds import GuildStore
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.characters")


def _to_wire(state: store.CharacterState) -> CharacterState:
    return msgspec.convert(msgspec.structs.asdict(state), CharacterState)


def _to_store(state: CharacterState) -> store.CharacterState:
    return msgspec.convert(msgspec.structs.asdict(state), store.CharacterState)


class CharacterService:
    """What daemons may ask of the character server, each for its own world only."""

    def __init__(self, server: CharacterServer) -> None:
        self.server = server

    @rpc("list_characters", ListCharacters, roles=("daemon",))
    async def list_characters(self, conn: RpcConnection, p: ListCharacters) -> list[CharacterSummary]:
        """The account's characters in this world."""
        own_world(conn, p.world)
        rows = await self.server.store.list(p.account_id, p.world)
        return [CharacterSummary(c.id, c.name, c.zone, c.level) for c in rows]

    @rpc("create_character", CreateCharacter, roles=("daemon",))
    async def create_character(self, conn: RpcConnection, p: CreateCharacter) -> CharacterSummary:
        """Create a character; the name is unique per world and must pass the name rules."""
        own_world(conn, p.world)
        problem = character_name_problem(p.name)
        if problem:
            raise RpcError("bad_name", problem)
        limit = self.server.settings.server.characters.max_per_account
        try:
            state = await self.server.store.create(p.account_id, p.world, p.name, p.zone, p.x, p.y,
                                                   limit=limit)
        except NameTaken:
            raise RpcError("name_taken", f"'{p.name}' is taken in {p.world}") from None
        except store.CharacterLimit:
            raise RpcError("too_many_characters",
                           f"an account may have at most {limit} characters in {p.world};"
                           " delete one first") from None
        self.server.audit("characters", "create", f"{p.world}/{p.name}", {"account_id": p.account_id})
        return CharacterSummary(state.id, state.name, state.zone, state.level)

    @rpc("delete_character", CharacterRef, roles=("daemon",))
    async def delete_character(self, conn: RpcConnection, p: CharacterRef) -> dict[str, Any]:
        """Soft-delete a character (a GM can restore it)."""
        own_world(conn, p.world)
        async with self.server.accounts.turn(p.account_id):  # not while a load puts it in play
            if self.server.claims.get(p.account_id) == (p.world, p.name.casefold()):
                raise RpcError("in_play", f"'{p.name}' is in play; log out first")
            state = await self.server.store.load(p.account_id, p.world, p.name)
            if state is None or not await self.server.store.delete(p.account_id, p.world, p.name):
                raise RpcError("no_such_character", f"no character '{p.name}'")
        guild = await self.server.guilds.drop_character(state.id)
        detail: dict[str, object] = {"account_id": p.account_id}
        if guild is not None:
            detail["left_guild"] = guild
        self.server.audit("characters", "delete", f"{p.world}/{state.name}", detail)
        return {"ok": True}

    @rpc("rename_character", RenameCharacter, roles=("daemon",))
    async def rename_character(self, conn: RpcConnection, p: RenameCharacter) -> CharacterSummary:
        """Rename one of the account's characters; not while it is in play."""
        own_world(conn, p.world)
        problem = character_name_problem(p.new_name)
        if problem:
            raise RpcError("bad_name", problem)
        async with self.server.accounts.turn(p.account_id):  # not while a load puts it in play
            if self.server.claims.get(p.account_id) == (p.world, p.name.casefold()):
                raise RpcError("in_play", f"'{p.name}' is in play; log out first")
            try:
                state = await self.server.store.rename(p.account_id, p.world, p.name, p.new_name)
            except NameTaken:
                raise RpcError("name_taken", f"'{p.new_name}' is taken in {p.world}") from None
        if state is None:
            raise RpcError("no_such_character", f"no character '{p.name}'")
        self.server.audit("characters", "rename", f"{p.world}/{state.name}",
                          {"account_id": p.account_id, "old_name": p.name})
        return CharacterSummary(state.id, state.name, state.zone, state.level)

    @rpc("load_character", CharacterRef, roles=("daemon",))
    async def load_character(self, conn: RpcConnection, p: CharacterRef) -> CharacterState:
        """Load a character to put it in play; one live character per account across all worlds."""
        own_world(conn, p.world)
        async with self.server.accounts.turn(p.account_id):  # two worlds loading at once: one wins
            claim = self.server.claims.get(p.account_id)
            if claim is not None and claim[0] != p.world:
                raise RpcError("already_playing", f"this account is playing in '{claim[0]}'")
            state = await self.server.store.load(p.account_id, p.world, p.name)
            if state is None:
                raise RpcError("no_such_character", f"no character '{p.name}'")
            self.server.claims[p.account_id] = (p.world, state.name.casefold())
            return _to_wire(state)

    @rpc("save_character", SaveCharacter, roles=("daemon",))
    async def save_character(self, conn: RpcConnection, p: SaveCharacter) -> SaveResult:
        """Save a character state based on ``version``; answered only after the commit. Stale saves are refused."""
        own_world(conn, p.state.world)
        metrics = self.server.metrics
        started = time.perf_counter()
        try:
            result = await self.server.batcher.save(_to_store(p.state))
        except Exception:
            metrics.saves.labels("error").inc()
            raise
        metrics.save_seconds.observe(time.perf_counter() - started)
        metrics.saves.labels("ok" if result.ok else result.reason or "refused").inc()
        if p.final and result.ok and self.server.claims.get(p.state.account_id, ("",))[0] == p.state.world:
            self.server.claims.pop(p.state.account_id, None)
        return SaveResult(result.id, result.ok, result.version, result.reason)


class MasterEvents:
    """Notifications the master sends the character server."""

    def __init__(self, server: CharacterServer) -> None:
        self.server = server

    @rpc("world_announced", WorldAnnounced, roles=("master",))
    def world_announced(self, conn: RpcConnection, p: WorldAnnounced) -> None:
        """A world was announced: link to its daemon's character port."""
        self.server.link_daemon(DaemonAddress(p.world, p.host, p.port))


class CharacterServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.claims: dict[int, tuple[str, str]] = {}  # account -> (world, character name key)
        self.accounts = KeyedTurns()  # claim checks and the changes they guard, per account
        self.daemon_links: dict[str, ServiceLink] = {}
        self.store: store.CharacterStore
        self.guilds: GuildStore
        self.batcher: store.SaveBatcher
        self.content = ContentInfo(content_version(content_dir(settings.server.cluster.content_dir,
                                                              settings.root)))
        self._daemon_router = Router.for_services(
            CharacterService(self), GuildService(self), self.content
        )
        self.gm_link: ServiceLink | None = None
        self.metrics = CharacterMetrics()
        self.metrics.live_gauge("shardkit_characters_in_play", "Characters in play (claimed).",
                                lambda: {(): len(self.claims)})
        self.metrics.live_gauge("shardkit_characters_daemon_links",
                                "Worlds whose daemon the character server is linked to.",
                                lambda: {(): sum(1 for link in self.daemon_links.values()
                                                 if link.conn is not None)})

    def audit(self, actor: str, action: str, target: str, detail: dict[str, object]) -> None:
        if self.gm_link is None or not self.gm_link.notify("audit", actor, action, target, detail):
            log.info("audit (GM server not linked): %s %s %s %s", quote(actor), quote(action),
                     quote(target), quote(detail, 400))

    def link_daemon(self, address: DaemonAddress) -> None:
        current = self.daemon_links.get(address.world)
        if current is not None and (current.host, current.port) == (address.host, address.port):
            return
        if current is not None:
            background(current.stop())
        self.release_world(address.world)
        link = ServiceLink(
            address.host, address.port, role="characters", name="characters",
            secret=self.settings.secrets.key("characters_link"), peer_role="daemon",
            router=self._daemon_router,
        )
        self.daemon_links[address.world] = link
        link.start()
        log.info("linking to the daemon of %s at %s:%s", quote(address.world), quote(address.host),
                 address.port)

    def release_world(self, world: str) -> None:
        for account, claim in list(self.claims.items()):
            if claim[0] == world:
                del self.claims[account]

    async def _on_master_up(self, conn: RpcConnection) -> None:
        for address in msgspec.convert(await conn.call("daemons"), list[DaemonAddress]):
            self.link_daemon(address)

    async def run(self, stop: asyncio.Event) -> int:
        settings = self.settings
        url = settings.database_url(settings.server.characters.database_url, "characters.db")
        db = await Database.open(url, schema="characters")
        self.store = store.CharacterStore(db)
        self.guilds = GuildStore(db)
        self.batcher = store.SaveBatcher(self.store, on_commit=self.metrics.committed)
        self.batcher.start()
        master = settings.server.master
        master_link = ServiceLink(
            master.host, master.port, role="characters", name="characters",
            secret=settings.secrets.key("characters_link"), peer_role="master",
            router=Router.for_services(MasterEvents(self)), on_up=self._on_master_up,
        )
        gm = settings.server.gm
        self.gm_link = ServiceLink(
            gm.host, gm.port, role="characters", name="characters",
            secret=settings.secrets.key("characters_link"), peer_role="gm",
            router=Router.for_services(GMService(self)),
        )
        master_link.start()
        self.gm_link.start()
        announce(f"characters linking to master {master.host}:{master.port} and gm {gm.host}:{gm.port}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host,
                                           settings.server.characters.metrics_port, "characters")
        await stop.wait()
        log.info("character server stopping")
        await metrics.close()
        for link in [master_link, self.gm_link, *self.daemon_links.values()]:
            await link.stop()
        await self.batcher.close()
        await db.close()
        return 0
