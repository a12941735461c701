"""A zone server in the test's event loop, with a stand-in WorldServer, over real loopback sockets.

The stand-in world serves what a zone calls on its WorldServer (ready, population, tick
stats, loads and saves of characters kept in memory with versions, world chat and
whispers), and calls the zone's administration methods over the same link, as a
WorldServer does. Players are ``GameClient``s that enter with zone tickets the rig signs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import msgspec

from shardkit.characters.schemas import CharacterRef, CharacterState, SaveCharacter, SaveResult
from shardkit.client.session import GameClient
from shardkit.config.settings import load_settings
from shardkit.daemon.chat_calls import WhisperCall, WorldSay
from shardkit.testing.harness import write_cluster_config
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Router, RpcConnection, RpcError, RpcServer, rpc, serve
from shardkit.wire.tickets import issue_ticket
from shardkit.world.schemas import ZonePopulation, ZoneReady, ZoneTickStats
from shardkit.zone.api import ZoneApi
from shardkit.zone.server import ZoneServer

CONTENT = Path(__file__).resolve().parent / "zone_content"
WORLD = "Atlantis"
ZONE = ("zone",)


class StandInWorld:
    """What a zone calls on its WorldServer, answered from memory."""

    def __init__(self) -> None:
        self.characters: dict[str, CharacterState] = {}
        self.ready = asyncio.Event()
        self.zone: RpcConnection | None = None
        self.zone_port = 0
        self.world_lines: list[WorldSay] = []
        self.whispers: list[WhisperCall] = []
        self.online: set[str] = set()  # names a whisper reaches

    @rpc("zone_ready", ZoneReady, roles=ZONE)
    def zone_ready(self, conn: RpcConnection, p: ZoneReady) -> Ok:
        self.zone, self.zone_port = conn, p.port
        self.ready.set()
        return Ok()

    @rpc("zone_population", ZonePopulation, roles=ZONE)
    def zone_population(self, conn: RpcConnection, p: ZonePopulation) -> None:
        return None

    @rpc("zone_tick_stats", ZoneTickStats, roles=ZONE)
    def zone_tick_stats(self, conn: RpcConnection, p: ZoneTickStats) -> None:
        return None

    @rpc("load_character", CharacterRef, roles=ZONE)
    def load_character(self, conn: RpcConnection, p: CharacterRef) -> CharacterState:
        state = self.characters.get(p.name.casefold())
        if state is None or state.account_id != p.account_id:
            raise RpcError("no_such_character", f"no character {p.name!r}")
        return state

    @rpc("save_character", SaveCharacter, roles=ZONE)
    def save_character(self, conn: RpcConnection, p: SaveCharacter) -> SaveResult:
        stored = self.characters[p.state.name.casefold()]
        if p.state.version != stored.version:
            return SaveResult(stored.id, False, stored.version, "stale")
        saved = msgspec.structs.replace(p.state, version=stored.version + 1)
        self.characters[p.state.name.casefold()] = saved
        return SaveResult(saved.id, True, saved.version)

    @rpc("chat_world", WorldSay, roles=ZONE)
    def chat_world(self, conn: RpcConnection, p: WorldSay) -> Ok:
        self.world_lines.append(p)
        return Ok()

    @rpc("chat_whisper", WhisperCall, roles=ZONE)
    def chat_whisper(self, conn: RpcConnection, p: WhisperCall) -> Ok:
        if p.to.casefold() not in self.online:
            raise RpcError("offline", "nobody of that name is playing in this world now")
        self.whispers.append(p)
        return Ok()


class ZoneRig:
    """``async with ZoneRig(tmp_path) as rig``: zone ``arena`` of tests/zone_content, running."""

    def __init__(self, root: Path, zone: str = "arena") -> None:
        self.root = root
        self.zone_name = zone
        self.world = StandInWorld()
        self.secret = os.urandom(32)
        self.clients: list[GameClient] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[int] | None = None
        self._world_port: RpcServer | None = None
        self.server: ZoneServer

    async def __aenter__(self) -> ZoneRig:
        write_cluster_config(self.root, content_dir=str(CONTENT), zones=("arena", "field"))
        settings = load_settings(self.root)
        self._world_port = await serve("127.0.0.1", 0, Router.for_services(
            self.world, ServiceAuth({"zone": derive_key(self.secret, "zone-link")},
                                    f"{WORLD}/0")))
        self.server = ZoneServer(settings, settings.worlds[WORLD], self.zone_name, 0,
                                 self._world_port.port, "127.0.0.1", self.secret)
        self._task = asyncio.create_task(self.server.run(self._stop))
        await asyncio.wait_for(self.world.ready.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients:
            await client.close()
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)
        if self._world_port is not None:
            await self._world_port.close()

    @property
    def admin(self) -> ZoneApi:
        """The zone's administration, as its WorldServer calls it."""
        assert self.world.zone is not None
        return ZoneApi(self.world.zone)

    def character(self, name: str, **fields: object) -> CharacterState:
        """A character of the stand-in store (made on first use: a new one, version 1)."""
        state = self.world.characters.get(name.casefold())
        if state is None:
            number = len(self.world.characters) + 1
            state = CharacterState(number, number, WORLD, name, self.zone_name, 20.0, 20.0)
        state = msgspec.structs.replace(state, **fields)
        self.world.characters[name.casefold()] = state
        return state

    async def player(self, name: str, **fields: object) -> GameClient:
        """A client in the zone as character ``name`` (an account of its own)."""
        state = self.character(name, **fields)
        ticket = issue_ticket(
            derive_key(self.secret, "zone-ticket"), kind="zone", account_id=state.account_id,
            account_name=name.lower(), destination=self.zone_name, character=state.name,
            character_id=state.id)
        client = GameClient("127.0.0.1", 1)
        self.clients.append(client)
        client.character = name
        await client.enter_zone("127.0.0.1", self.world.zone_port, ticket)
        await client.wait_for(lambda s: client.me() is not None)
        return client
