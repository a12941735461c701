"""Player-side library: log in to the master, enter a world, manage characters, play in a zone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shardkit.characters.schemas import CharacterSummary
from shardkit.client.guilds import GuildCalls
from shardkit.master.accounts_rules import password_problem
from shardkit.master.schemas import (
    AccountInfo,
    LoginDone,
    LoginStarted,
    QueuePosition,
    QueueReady,
    RegistrationRules,
    WorldEntry,
    WorldInfo,
)
from shardkit.wire.rpc import Router, RpcConnection, RpcError, connect, params_of, rpc
from shardkit.wire.scram import ScramClientSession, ScramError, make_verifier
from shardkit.world.schemas import Welcome, ZoneEntry
from shardkit.zone.schemas import Entered


class SnapshotMsg(msgspec.Struct, array_like=True):
    tick: int
    rows: list[tuple[int, str, float, float]]


class ChatMsg(msgspec.Struct, array_like=True):
    speaker: str
    text: str


class TextMsg(msgspec.Struct, array_like=True):
    text: str


class EntityMsg(msgspec.Struct, array_like=True):
    entity_id: int


class SavedMsg(msgspec.Struct, array_like=True):
    version: int
    zone: str
    x: float
    y: float


class ErrorMsg(msgspec.Struct, array_like=True):
    error: dict[str, str]


class GuildChatMsg(msgspec.Struct, array_like=True):
    guild: str
    speaker: str
    text: str


@dataclass
class Seen:
    """Another entity as the last snapshot showed it."""

    name: str
    x: float
    y: float
    tick: int


@dataclass
class ClientState:
    """Everything the servers told this client, for a UI or a test to read."""

    tick: int = 0
    seen: dict[int, Seen] = field(default_factory=dict)
    chat: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    kicked: str | None = None
    zone_lost: str | None = None
    snapshots: int = 0
    saved: SavedMsg | None = None  # the last state the character server acknowledged
    guild_chat: list[tuple[str, str, str]] = field(default_factory=list)  # (guild, speaker, text)
    queue_position: int | None = None  # our place in a full world's login queue (1 = next)
    queue_ready: WorldEntry | None = None  # the ticket the queue gave us


class ServerEvents:
    """Notifications servers send a player; each updates ClientState and wakes waiters."""

    def __init__(self, client: GameClient) -> None:
        self.client = client

    @rpc("snapshot", SnapshotMsg, public=True)
    def snapshot(self, conn: RpcConnection, p: SnapshotMsg) -> None:
        """What the player can see this tick: [[entity_id, name, x, y], ...]."""
        state = self.client.state
        state.tick = p.tick
        state.snapshots += 1
        state.seen = {eid: Seen(name, x, y, p.tick) for eid, name, x, y in p.rows}
        self.client.changed()

    @rpc("chat", ChatMsg, public=True)
    def chat(self, conn: RpcConnection, p: ChatMsg) -> None:
        """Someone in the zone said something."""
        self.client.state.chat.append((p.speaker, p.text))
        self.client.changed()

    @rpc("left", EntityMsg, public=True)
    def left(self, conn: RpcConnection, p: EntityMsg) -> None:
        """An entity left the zone."""
        self.client.state.seen.pop(p.entity_id, None)
        self.client.changed()

    @rpc("kicked", TextMsg, public=True)
    def kicked(self, conn: RpcConnection, p: TextMsg) -> None:
        """The server is about to disconnect us, and says why."""
        if conn is self.client.leaving_zone:
            return  # the zone we are leaving for another one puts us out of play there: expected
        self.client.state.kicked = p.text
        self.client.changed()

    @rpc("broadcast", TextMsg, public=True)
    def broadcast(self, conn: RpcConnection, p: TextMsg) -> None:
        """A message from the administrators to everyone."""
        self.client.state.notices.append(p.text)
        self.client.changed()

    @rpc("zone_lost", TextMsg, public=True)
    def zone_lost(self, conn: RpcConnection, p: TextMsg) -> None:
        """Our zone process went down; enter the game again once it is back."""
        self.client.state.zone_lost = p.text
        self.client.changed()

    @rpc("saved", SavedMsg, public=True)
    def saved(self, conn: RpcConnection, p: SavedMsg) -> None:
        """The character server committed our character at this version and place."""
        self.client.state.saved = p
        self.client.changed()

    @rpc("guild_chat", GuildChatMsg, public=True)
    def guild_chat(self, conn: RpcConnection, p: GuildChatMsg) -> None:
        """A member of our guild said something (on any WorldServer of the world)."""
        self.client.state.guild_chat.append((p.guild, p.speaker, p.text))
        self.client.changed()

    @rpc("queue_position", QueuePosition, public=True)
    def queue_position(self, conn: RpcConnection, p: QueuePosition) -> None:
        """Our place in a full world's login queue changed (1 = next in line)."""
        self.client.state.queue_position = p.position
        self.client.changed()

    @rpc("queue_ready", QueueReady, public=True)
    def queue_ready(self, conn: RpcConnection, p: QueueReady) -> None:
        """Our turn in the queue came: the world's address and our ticket."""
        self.client.state.queue_ready = WorldEntry(p.world, p.host, p.port, p.ticket)
        self.client.state.queue_position = None
        self.client.changed()

    @rpc("error", ErrorMsg, public=True)
    def error(self, conn: RpcConnection, p: ErrorMsg) -> None:
        """A server-side error about something we sent as a notification."""
        self.client.state.notices.append(f"error: {p.error.get('message', p.error)}")
        self.client.changed()


Dial = Callable[[str, int, Router], Awaitable[RpcConnection]]
"""Opens a connection to host:port dispatching into a router (``wire.rpc.connect`` by default;
``web.ws_transport.BridgeDialer.dial`` goes through the web bridge as a browser would)."""


class GameClient(GuildCalls):
    """One player's connections: master, then a world, then a zone."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2002, dial: Dial = connect) -> None:
        self.host = host
        self.port = port
        self._dial = dial
        self.master: RpcConnection | None = None
        self.world: RpcConnection | None = None
        self.zone: RpcConnection | None = None
        self.account: AccountInfo | None = None
        self.entered: Entered | None = None
        self.leaving_zone: RpcConnection | None = None  # replaced by the enter_game under way
        self.world_name = ""
        self.state = ClientState()
        self._router = Router.for_services(ServerEvents(self))
        self._waiters: list[asyncio.Future[None]] = []

    # -------------------------------------------------------------- events
    def changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, predicate: Callable[[ClientState], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate(state)`` is truthy (checked on every server event)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.state)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass

    # -------------------------------------------------------------- master
    async def _master(self) -> RpcConnection:
        if self.master is None or self.master.closed.is_set():
            self.master = await self._dial(self.host, self.port, self._router)
        return self.master

    async def register(self, name: str, password: str, registration_key: str = "") -> AccountInfo:
        """Create an account; only a salted verifier leaves this machine."""
        problem = password_problem(password, name)
        if problem:
            raise RpcError("bad_password", problem)
        master = await self._master()
        rules = msgspec.convert(await master.call("registration_rules"), RegistrationRules)
        verifier = await asyncio.to_thread(make_verifier, password, rules.iterations)
        try:
            result = await master.call("register", name, *params_of(verifier), registration_key)
        finally:
            self._drop_master()  # log in on a fresh connection: this one was never authenticated
        return msgspec.convert(result, AccountInfo)

    def _drop_master(self) -> None:
        if self.master is not None:
            self.master.close("done")
            self.master = None

    async def login(self, name: str, password: str) -> AccountInfo:
        """SCRAM-SHA-256 login: proves the password without sending it, and checks the server too."""
        master = await self._master()
        scram = ScramClientSession(name, password)
        started = msgspec.convert(await master.call("login_start", name, scram.first()), LoginStarted)
        client_final = await asyncio.to_thread(scram.final, started.server_first)
        try:
            done = msgspec.convert(await master.call("login_finish", client_final), LoginDone)
        except RpcError:
            self._drop_master()  # a failed login leaves nothing worth keeping on this connection
            raise
        try:
            scram.verify(done.server_final)
        except ScramError:
            master.close("server failed SCRAM")
            raise RpcError("auth_failed", "the server could not prove it knows the account") from None
        self.account = done.account
        return done.account

    async def worlds(self) -> list[WorldInfo]:
        master = await self._master()
        return msgspec.convert(await master.call("worlds"), list[WorldInfo])

    # --------------------------------------------------------------- world
    async def enter_world(self, name: str, port: int | None = None) -> Welcome:
        """Get a ticket from the master (queueing while the world is full) and log in to the world.

        ``port`` picks another WorldServer (cluster) of the world than its entry point.
        """
        entry = await self._world_ticket(name)
        if self.world is not None:
            self.world.close("changing world")
        self.world = await self._dial(entry.host, port or entry.port, self._router)
        welcome = msgspec.convert(await self.world.call("ticket_login", entry.ticket), Welcome)
        self.world_name = welcome.world
        return welcome

    async def _world_ticket(self, name: str, queue_timeout: float = 3600.0) -> WorldEntry:
        """A ticket for the world; if it is full, wait in its queue (``state.queue_position``)."""
        master = await self._master()
        self.state.queue_ready = None
        answer = await master.call("enter_world", name)
        if not (isinstance(answer, dict) and answer.get("queued")):
            return msgspec.convert(answer, WorldEntry)
        self.state.queue_position = int(answer.get("position", 0)) or None
        self.changed()
        ready = asyncio.ensure_future(self.wait_for(lambda s: s.queue_ready, queue_timeout))
        lost = asyncio.ensure_future(master.closed.wait())
        try:
            await asyncio.wait({ready, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not ready.done():
                ready.cancel()
        if ready.cancelled() or not ready.done():
            raise RpcError("closed", f"lost the master while queued for {name}")
        try:
            entry: WorldEntry = ready.result()
        except TimeoutError:
            master.notify("leave_queue", name)
            raise RpcError("timeout", f"still queued for {name}; gave up waiting") from None
        return entry

    async def change_password(self, new_password: str) -> None:
        """Send the master a verifier of the new password (the password stays here)."""
        problem = password_problem(new_password, self.account.name if self.account else "")
        if problem:
            raise RpcError("bad_password", problem)
        master = await self._master()
        rules = msgspec.convert(await master.call("registration_rules"), RegistrationRules)
        verifier = await asyncio.to_thread(make_verifier, new_password, rules.iterations)
        await master.call("change_password", *params_of(verifier))

    def _in_world(self) -> RpcConnection:
        if self.world is None or self.world.closed.is_set():
            raise RpcError("not_in_world", "enter a world first")
        return self.world

    async def characters(self) -> list[CharacterSummary]:
        return msgspec.convert(await self._in_world().call("characters"), list[CharacterSummary])

    async def create_character(self, name: str) -> CharacterSummary:
        return msgspec.convert(
            await self._in_world().call("create_character", name), CharacterSummary
        )

    async def delete_character(self, name: str) -> None:
        await self._in_world().call("delete_character", name)

    async def rename_character(self, name: str, new_name: str) -> CharacterSummary:
        return msgspec.convert(
            await self._in_world().call("rename_character", name, new_name), CharacterSummary
        )

    # ---------------------------------------------------------------- zone
    async def enter_game(self, character: str) -> Entered:
        """Ask the world for a zone and a zone ticket, and enter the zone."""
        self.leaving_zone = self.zone
        try:
            entry = msgspec.convert(await self._in_world().call("enter_game", character), ZoneEntry)
        except BaseException:
            self.leaving_zone = None
            raise
        if self.zone is not None:
            self.zone.close("changing zone")
        self.state.zone_lost = None
        self.state.seen.clear()
        self.zone = await self._dial(entry.host, entry.port, self._router)
        self.entered = msgspec.convert(await self.zone.call("zone_login", entry.ticket), Entered)
        return self.entered

    def _in_zone(self) -> RpcConnection:
        if self.zone is None or self.zone.closed.is_set():
            raise RpcError("not_in_zone", "enter the game first")
        return self.zone

    def move(self, dx: float, dy: float) -> None:
        """Walk in a direction (each axis -1..1); (0, 0) stops."""
        self._in_zone().notify("input", dx, dy)

    def say(self, text: str) -> None:
        self._in_zone().notify("say", text)

    def me(self) -> Seen | None:
        if self.entered is None:
            return None
        return self.state.seen.get(self.entered.entity_id)

    async def leave_game(self) -> bool:
        """Log out of the zone; True once the character server acknowledged the final save."""
        saved = True
        if self.zone is not None and not self.zone.closed.is_set():
            try:
                answer = await self.zone.call("logout")
                saved = bool(isinstance(answer, dict) and answer.get("ok"))
            finally:
                self.zone.close("logged out")
        self.zone = None
        self.entered = None
        return saved

    async def close(self) -> None:
        """Leave the game (saving), then drop the world and master connections."""
        try:
            await self.leave_game()
        except RpcError:
            pass
        for conn in (self.world, self.master):
            if conn is not None:
                conn.close("client closed")
        self.world = self.master = None
