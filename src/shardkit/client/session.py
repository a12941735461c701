"""Player-side library: log in to the master, enter a world, manage characters, play in a zone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shardkit.characters.calls import CharacterCalls
from shardkit.client.events import ClientState, Seen, ServerEvents
from shardkit.client.follow import WorldFollower
from shardkit.client.guilds import GuildCalls
from shardkit.client.transfer import arrive
from shardkit.client.zone_events import ZoneEvents
from shardkit.master.accounts_rules import password_problem
from shardkit.master.api import MasterPlayerApi
from shardkit.master.schemas import AccountInfo, RegisterParams, WorldEntry, WorldInfo
from shardkit.runtime.tasks import background
from shardkit.wire.rpc import Router, RpcConnection, RpcError, connect
from shardkit.wire.scram import ScramClientSession, ScramError, make_verifier
from shardkit.world.api import WorldPlayerApi
from shardkit.world.schemas import Welcome
from shardkit.zone.api import ZonePlayerApi
from shardkit.zone.notifications import SAY, WORLD, ZONE, Portal, Transfer
from shardkit.zone.schemas import Entered

__all__ = ["ClientState", "GameClient", "Seen", "ServerEvents"]


Dial = Callable[[str, int, Router], Awaitable[RpcConnection]]
"""Opens a connection to host:port dispatching into a router (``wire.rpc.connect`` by default;
``web.ws_transport.BridgeDialer.dial`` goes through the web bridge as a browser would)."""


class GameClient(GuildCalls):
    """One player's connections: master, then a world, then a zone.

    The character calls of the world port (and the guild calls of ``GuildCalls``) come from
    the relayed-call tables in characters/calls.py: each returns the table's result type.
    """

    characters = CharacterCalls.list_characters
    create_character = CharacterCalls.create_character
    delete_character = CharacterCalls.delete_character
    rename_character = CharacterCalls.rename_character

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
        self.character = ""  # the character we entered the game with
        self.state = ClientState()
        self._router = Router.for_services(ServerEvents(self), ZoneEvents(self))
        self._waiters: list[asyncio.Future[None]] = []
        self.follower = WorldFollower(self)  # back into the world by itself when it drops

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
        api = MasterPlayerApi(master)
        rules = await api.registration_rules()
        verifier = await asyncio.to_thread(make_verifier, password, rules.iterations)
        try:
            return await api.register(RegisterParams(
                name, verifier.salt, verifier.stored_key, verifier.server_key, verifier.iterations,
                registration_key))
        finally:
            self._drop_master()  # log in on a fresh connection: this one was never authenticated

    def _drop_master(self) -> None:
        if self.master is not None:
            self.master.close("done")
            self.master = None

    async def login(self, name: str, password: str) -> AccountInfo:
        """SCRAM-SHA-256 login: proves the password without sending it, and checks the server."""
        master = await self._master()
        api = MasterPlayerApi(master)
        scram = ScramClientSession(name, password)
        started = await api.login_start(name, scram.first())
        client_final = await asyncio.to_thread(scram.final, started.server_first)
        try:
            done = await api.login_finish(client_final)
        except RpcError:
            self._drop_master()  # a failed login leaves nothing worth keeping on this connection
            raise
        try:
            scram.verify(done.server_final)
        except ScramError:
            master.close("server failed SCRAM")
            raise RpcError("auth_failed",
                           "the server could not prove it knows the account") from None
        self.account = done.account
        return done.account

    async def worlds(self) -> list[WorldInfo]:
        return await MasterPlayerApi(await self._master()).worlds()

    # --------------------------------------------------------------- world
    async def enter_world(self, name: str, port: int | None = None,
                          cluster: int | None = None) -> Welcome:
        """Get a ticket from the master (queueing while the world is full) and log in to the world.

        ``cluster`` and ``port`` pick another WorldServer of the world than its entry point
        (a world ticket admits to the one WorldServer it names).
        """
        entry = await self._world_ticket(name, cluster)
        old, self.world = self.world, None
        if old is not None:
            old.close("changing world")
        self.world = await self._dial(entry.host, port or entry.port, self._router)
        self.follower.watch(self.world)
        welcome = await WorldPlayerApi(self.world).ticket_login(entry.ticket)
        self.world_name = welcome.world
        return welcome

    async def _world_ticket(self, name: str, cluster: int | None = None,
                            queue_timeout: float = 3600.0) -> WorldEntry:
        """A ticket for the world; if it is full, wait in its queue (``state.queue_position``)."""
        master = await self._master()
        api = MasterPlayerApi(master)
        self.state.queue_ready = None
        answer = await api.enter_world(name, cluster)
        if isinstance(answer, WorldEntry):
            return answer
        self.state.queue_position = answer.position or None
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
            api.leave_queue(name)
            raise RpcError("timeout", f"still queued for {name}; gave up waiting") from None
        return entry

    async def change_password(self, new_password: str) -> None:
        """Send the master a verifier of the new password (the password stays here)."""
        problem = password_problem(new_password, self.account.name if self.account else "")
        if problem:
            raise RpcError("bad_password", problem)
        api = MasterPlayerApi(await self._master())
        rules = await api.registration_rules()
        verifier = await asyncio.to_thread(make_verifier, new_password, rules.iterations)
        await api.change_password(verifier)

    def _in_world(self) -> RpcConnection:
        if self.world is None or self.world.closed.is_set():
            raise RpcError("not_in_world", "enter a world first")
        return self.world

    # ---------------------------------------------------------------- zone
    async def enter_game(self, character: str) -> Entered:
        """Ask the world for a zone and a zone ticket, and enter the zone."""
        self.leaving_zone = self.zone
        try:
            entry = await WorldPlayerApi(self._in_world()).enter_game(character)
        except BaseException:
            self.leaving_zone = None
            raise
        self.character = character
        if entry.transfer:  # its zone is on another WorldServer of the world: go there
            return await arrive(self, self._dial, self._router, entry.host, entry.port,
                                entry.ticket)
        return await self.enter_zone(entry.host, entry.port, entry.ticket)

    async def enter_zone(self, host: str, port: int, ticket: bytes) -> Entered:
        """Dial a zone and enter it with a zone ticket (``enter_game`` gets one from the world)."""
        if self.zone is not None:
            self.zone.close("changing zone")
        state = self.state
        state.zone_lost = None
        state.seen.clear()
        self.zone = await self._dial(host, port, self._router)
        entered = await ZonePlayerApi(self.zone).zone_login(ticket)
        self.entered = entered
        progress = state.progress
        progress.level, progress.xp, progress.gold = entered.level, entered.xp, entered.gold
        progress.items = dict(entered.items)
        self.changed()
        return entered

    def follow_portal(self, portal: Portal) -> None:
        """The zone moved our character through a portal: enter the game again, over there."""
        background(self._follow(portal))

    async def _follow(self, portal: Portal) -> None:
        await self.follower.follow_portal(portal.zone)  # retries while the way is not open

    def follow_transfer(self, transfer: Transfer) -> None:
        """A portal took our character to another WorldServer: go there and enter its zone."""
        background(self._cross(transfer))

    async def _cross(self, transfer: Transfer) -> None:
        try:
            await arrive(self, self._dial, self._router, transfer.host, transfer.port,
                         transfer.ticket)
        except (RpcError, OSError) as exc:
            self.state.notices.append(f"could not follow the portal to {transfer.zone}: {exc}")
            self.changed()
            return
        self.state.transfers += 1
        self.changed()

    def _in_zone(self) -> RpcConnection:
        if self.zone is None or self.zone.closed.is_set():
            raise RpcError("not_in_zone", "enter the game first")
        return self.zone

    def move(self, dx: float, dy: float) -> None:
        """Walk in a direction (each axis -1..1); (0, 0) stops."""
        ZonePlayerApi(self._in_zone()).input(dx, dy)

    def claim_position(self, x: float, y: float) -> None:
        """Tell the zone where we believe we are; it answers ``corrected`` if it disagrees."""
        ZonePlayerApi(self._in_zone()).claim_position(x, y)

    def attack(self, target: int) -> None:
        """Attack an entity in view; hits come in ``sync``, a refusal as ``attack_refused``."""
        ZonePlayerApi(self._in_zone()).attack(target)

    def say(self, text: str) -> None:
        """Heard by the players near us (a notification; a refusal comes as ``error``)."""
        ZonePlayerApi(self._in_zone()).say(text)

    async def zone_say(self, text: str) -> None:
        """Heard by everyone in our zone."""
        await ZonePlayerApi(self._in_zone()).chat(ZONE, text)

    async def world_say(self, text: str) -> None:
        """Heard by everyone playing in this world, on every WorldServer."""
        await ZonePlayerApi(self._in_zone()).chat(WORLD, text)

    async def chat(self, channel: str, text: str) -> None:
        """Say something on a channel: ``say``, ``zone`` or ``world``."""
        await ZonePlayerApi(self._in_zone()).chat(channel or SAY, text)

    async def whisper(self, to: str, text: str) -> None:
        """To one character anywhere in the world; ``offline`` if it plays nowhere."""
        await ZonePlayerApi(self._in_zone()).whisper(to, text)

    def me(self) -> Seen | None:
        if self.entered is None:
            return None
        return self.state.seen.get(self.entered.entity_id)

    async def leave_game(self) -> bool:
        """Log out of the zone; True once the character server acknowledged the final save."""
        saved = True
        if self.zone is not None and not self.zone.closed.is_set():
            try:
                saved = (await ZonePlayerApi(self.zone).logout()).ok
            finally:
                self.zone.close("logged out")
        self.zone = None
        self.entered = None
        return saved

    async def close(self) -> None:
        """Leave the game (saving), then drop the world and master connections."""
        self.follower.enabled = False
        try:
            await self.leave_game()
        except RpcError:
            pass
        for conn in (self.world, self.master):
            if conn is not None:
                conn.close("client closed")
        self.world = self.master = None
