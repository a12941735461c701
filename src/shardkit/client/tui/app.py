"""The full-screen terminal client (``shardkit play``): screens over one GameClient, news shown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from shardkit.client.session import GameClient
from shardkit.client.tui.chat import ChatPane, Outgoing
from shardkit.client.tui.game import GameScreen
from shardkit.client.tui.screens import CharactersScreen, LoginScreen, WorldsScreen
from shardkit.wire.rpc import RpcError
from shardkit.wire.text import clean_text
from shardkit.zone.notifications import Portal, Saved, Transfer
from shardkit.zone.schemas import Entered

__all__ = ["ShardkitApp", "TuiClient"]

T = TypeVar("T")
REFRESH_HZ = 10.0  # the screen follows the client's state this often at most
RECONNECT_TRIES = 8
PORTAL_WAIT_S = 10.0  # a portal's move not done by then counts as a lost link
CLOSE_TIMEOUT_S = 15.0
NETWORK_ERRORS = (RpcError, OSError, TimeoutError)


class TuiClient(GameClient):
    """A GameClient that tells the app whenever a server event changed its state."""

    def __init__(self, host: str, port: int, on_change: Callable[[], None]) -> None:
        super().__init__(host, port)
        self._on_change = on_change

    def changed(self) -> None:
        super().changed()
        self._on_change()


def _problem(exc: BaseException) -> str:
    if isinstance(exc, RpcError):
        return f"{exc.code}: {clean_text(exc.message, 200)}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers there ({exc.strerror}): is `shardkit up` running?"
    return f"network: {exc}"


class ShardkitApp(App[int]):
    """Log in, pick a world and a character, play; the status line says what is going on."""

    TITLE = "shardkit"
    BINDINGS = [Binding("ctrl+q", "leave", "quit", priority=True)]
    status: reactive[str] = reactive("")

    def __init__(self, host: str = "127.0.0.1", port: int = 2002) -> None:
        super().__init__()
        self.host, self.port = host, port
        self.client = TuiClient(host, port, self._client_changed)
        self.world = ""
        self.character = ""
        self.in_game = False
        self.saved_at = 0.0
        self._dirty = False
        self._busy = False  # a login, world entry or game entry is under way
        self._reconnecting = False
        self._leaving = False
        self._notices = 0
        self._news: tuple[object, ...] = (None,) * 6
        self._portal_deadline = 0.0

    # ------------------------------------------------------------ plumbing
    def on_mount(self) -> None:
        self.push_screen(LoginScreen())
        self.set_status(f"master {self.host}:{self.port}: log in, or register a new account"
                        " (Tab moves between fields)")
        self.set_interval(1 / REFRESH_HZ, self._follow_state)

    def set_status(self, text: str) -> None:
        self.status = clean_text(text, 300)

    def _client_changed(self) -> None:
        self._dirty = True

    async def attempt(self, doing: str, call: Awaitable[T], *, quiet: bool = False) -> T | None:
        """Await a server call, saying what is under way; a failure is shown, not raised.

        ``quiet``: a routine call (a refresh) that the status line mentions only if it fails.
        """
        under_way = f"{doing}..."
        if not quiet:
            self.set_status(under_way)
        try:
            result = await call
        except NETWORK_ERRORS as exc:
            self.set_status(f"{doing} failed: {_problem(exc)}")
            return None
        if self.status == under_way:
            self.set_status(f"{doing}: done")
        return result

    def safely(self, send: Callable[[], None]) -> None:
        """Send a notification to the zone; without a zone the status line says so."""
        try:
            send()
        except RpcError as exc:
            self.set_status(_problem(exc))

    def _run(self, work: Awaitable[None]) -> None:
        if self._busy:
            self.set_status("one moment: still busy with the last request")
            return

        async def guarded() -> None:
            self._busy = True
            try:
                await work
            finally:
                self._busy = False

        self.run_worker(guarded(), group="flow")

    # --------------------------------------------------------------- flow
    def start_login(self, name: str, password: str, *, register: bool) -> None:
        if not name or not password:
            self.set_status("type an account name and a password first")
            return
        self._run(self._login(name, password, register))

    async def _login(self, name: str, password: str, register: bool) -> None:
        if register and await self.attempt(
                f"registering {name}", self.client.register(name, password)) is None:
            return
        account = await self.attempt(f"logging in as {name}", self.client.login(name, password))
        if account is None:
            return
        self.set_status(f"logged in as {account.name}"
                        f"{' (new account)' if register else ''}: pick a world")
        await self.switch_screen(WorldsScreen())

    def start_enter_world(self, name: str) -> None:
        self._run(self._enter_world(name))

    async def _enter_world(self, name: str) -> None:
        welcome = await self.attempt(f"entering {name}", self.client.enter_world(name))
        if welcome is None:
            return
        self.world = welcome.world
        self.set_status(f"in {welcome.world} as {welcome.account_name}: pick or create a"
                        " character")
        await self.switch_screen(CharactersScreen())

    def start_game(self, character: str) -> None:
        self._run(self._enter_game(character))

    async def _enter_game(self, character: str) -> None:
        entered = await self.attempt(f"entering the game as {character}",
                                     self.client.enter_game(character))
        if entered is None:
            return
        self.character, self.in_game = self.client.character, True
        self._news = self._news_of()
        self._announce(entered)
        await self.switch_screen(GameScreen(self.client.character))

    def _announce(self, entered: Entered) -> None:
        self.set_status(f"playing {self.character} in {entered.zone} at ({entered.x:.0f},"
                        f" {entered.y:.0f}); press ? for the keys")

    def back_to_worlds(self) -> None:
        if self.client.world is not None:
            self.client.world.close("back to the world list")
        self.set_status("pick a world")
        self.switch_screen(WorldsScreen())

    def logout(self) -> None:
        self.run_worker(self._drop_all("logged out"), group="flow")

    async def _drop_all(self, why: str) -> None:
        self.in_game = False
        old = self.client
        self.client = TuiClient(self.host, self.port, self._client_changed)
        try:
            await asyncio.wait_for(old.close(), CLOSE_TIMEOUT_S)
        except NETWORK_ERRORS:
            pass
        self.set_status(why)
        await self.switch_screen(LoginScreen())

    def leave_game(self, *, then_quit: bool) -> None:
        if not self._leaving:
            self._leaving = True
            self.run_worker(self._leave_game(then_quit), group="flow")

    async def _leave_game(self, then_quit: bool) -> None:
        self.in_game = False
        self.set_status(f"saving {self.character}...")
        try:
            saved = await asyncio.wait_for(self.client.leave_game(), CLOSE_TIMEOUT_S)
        except NETWORK_ERRORS as exc:
            saved = False
            self.set_status(f"logging out failed: {_problem(exc)}")
        else:
            self.set_status(f"{self.character} is saved" if saved
                            else f"{self.character} left the game; the save was not confirmed")
        finally:
            self._leaving = False
        if then_quit:
            await self._quit(0 if saved else 1)
        else:
            await self.switch_screen(CharactersScreen())

    async def _quit(self, code: int) -> None:
        try:
            await asyncio.wait_for(self.client.close(), CLOSE_TIMEOUT_S)
        except NETWORK_ERRORS:
            pass
        self.exit(code)

    async def action_leave(self) -> None:
        """Ctrl-Q anywhere: in the game, log out (saving) first."""
        if self.in_game:
            self.leave_game(then_quit=True)
        else:
            await self._quit(0)

    def send_chat(self, outgoing: Outgoing) -> None:
        self.run_worker(self._send_chat(outgoing), group="chat")

    async def _send_chat(self, out: Outgoing) -> None:
        client = self.client
        try:
            if out.channel == "whisper":
                await client.whisper(out.to, out.text)
            elif out.channel == "guild":
                await client.guild_say(out.text)
            elif out.channel == "say":
                client.say(out.text)
            else:
                await client.chat(out.channel, out.text)
        except NETWORK_ERRORS as exc:
            self._notice(f"not said ({out.channel}): {_problem(exc)}")
            return
        if out.channel == "whisper":
            self.screen.query_one(ChatPane).heard("whisper", f"to {out.to}", out.text)

    # --------------------------------------------------------- following
    def _news_of(self) -> tuple[object, ...]:
        state = self.client.state
        return (state.kicked, state.zone_lost, state.portal, state.saved, self.client.entered,
                state.transfer)

    def _follow_state(self) -> None:
        """Show what changed since the last refresh, and react to lost links and moves."""
        client, state = self.client, self.client.state
        if self._dirty:
            self._dirty = False
            if state.queue_position is not None and self._busy and not self.in_game:
                self.set_status(f"{self.world or 'the world'} is full: you are number"
                                f" {state.queue_position} in the queue")
            for text in state.notices[self._notices:]:
                self._notice(text)
            self._notices = len(state.notices)
            self._news_changed()
            if isinstance(self.screen, GameScreen):
                self.screen.redraw()
        if self.in_game and not self._reconnecting and not self._leaving:
            zone = client.zone
            lost = zone is None or zone.closed.is_set()
            if lost and time.monotonic() > self._portal_deadline:
                self._reconnect("the link to the zone dropped")

    def _notice(self, text: str) -> None:
        if isinstance(self.screen, GameScreen):
            self.screen.notice(text)
        else:
            self.set_status(text)

    def _news_changed(self) -> None:
        kicked, zone_lost, portal, saved, entered, transfer = news = self._news_of()
        before = self._news
        self._news = news
        if kicked is not None:
            self.in_game = False  # no reconnecting: the servers put us out
            self.client.state.kicked = None  # told once; a later kick is news again
            self._news = self._news_of()
            self.run_worker(self._kicked(str(kicked)), group="flow")
            return
        if isinstance(saved, Saved) and saved is not before[3]:
            self.saved_at = time.time()
        if not self.in_game:
            return
        if zone_lost and zone_lost != before[1]:
            self._reconnect(f"the zone {zone_lost} went down")
        elif isinstance(transfer, Transfer) and transfer is not before[5]:
            self._portal_deadline = time.monotonic() + PORTAL_WAIT_S
            self.set_status(f"through the {transfer.portal} to {transfer.zone}, on another"
                            " WorldServer...")
        elif isinstance(portal, Portal) and portal is not before[2]:
            if portal.moved:
                self._portal_deadline = time.monotonic() + PORTAL_WAIT_S
                self.set_status(f"through the {portal.portal} to {portal.zone}...")
            else:
                self.set_status(f"the {portal.portal} leads to {portal.zone}, on another"
                                " WorldServer: that way is not open yet")
        if isinstance(entered, Entered) and entered is not before[4]:
            self._portal_deadline = 0.0
            self._announce(entered)

    async def _kicked(self, reason: str) -> None:
        """Put out by a server: back to the characters if the world link holds, else log in."""
        why = f"kicked: {reason}"
        world = self.client.world
        await asyncio.sleep(0)  # the server closes what it kicked us from right after telling
        if world is not None and not world.closed.is_set():
            self.set_status(why)
            await self.switch_screen(CharactersScreen())
        else:
            await self._drop_all(why)

    def _reconnect(self, why: str) -> None:
        self._reconnecting = True
        self.run_worker(self._get_back_in(why), group="reconnect", exclusive=True)

    async def _get_back_in(self, why: str) -> None:
        """Enter the game again (the world first if its link is gone), backing off."""
        client, problem = self.client, ""
        self._notice(f"{why}; reconnecting")
        try:
            for attempt in range(1, RECONNECT_TRIES + 1):
                self.set_status(f"{why}; reconnecting (try {attempt} of {RECONNECT_TRIES})")
                master_gone = client.master is None or client.master.closed.is_set()
                if master_gone and (client.world is None or client.world.closed.is_set()):
                    self.in_game = False  # a world ticket needs the login on the master
                    await self._drop_all(f"{why}, and the link to the master with it:"
                                         " log in again")
                    return
                try:
                    if client.world is None or client.world.closed.is_set():
                        await client.enter_world(self.world)
                    await client.enter_game(self.character)
                except NETWORK_ERRORS as exc:
                    problem = _problem(exc)
                    if client is not self.client or not self.in_game:
                        return  # logged out or kicked meanwhile
                    await asyncio.sleep(min(2.0 ** (attempt - 1), 10.0))
                    continue
                self._notice(f"back in the game ({why}; try {attempt})")  # stays in the chat
                self.set_status(f"back in the game: {why} before")
                return
            self.in_game = False
            self.set_status(f"{why}; could not get back in ({problem}): pick a character to"
                            " try again")
            await self.switch_screen(CharactersScreen())
        finally:
            self._reconnecting = False
