"""``shardkit play``: a line-based terminal client for accounts, worlds, characters, walking and chat."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import math
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator

from shardkit.client.session import ClientState, GameClient
from shardkit.master.schemas import WorldInfo
from shardkit.wire.rpc import RpcError
from shardkit.wire.text import clean_text

DIRECTIONS: dict[str, tuple[str, float, float]] = {
    "n": ("north", 0, 1), "s": ("south", 0, -1), "e": ("east", 1, 0), "w": ("west", -1, 0),
    "ne": ("north-east", 1, 1), "nw": ("north-west", -1, 1),
    "se": ("south-east", 1, -1), "sw": ("south-west", -1, -1),
}  # the zone scales diagonals to unit length; y grows to the north
HEADINGS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")
GAME_HELP = """\
commands:
  n s e w ne nw se sw   start walking that way (north is +y)
  stop                  stand still
  say TEXT  or  'TEXT   talk to everyone in the zone
  look                  where you are and everyone you can see
  who                   who is in sight
  play [NAME]           enter the game again (after the zone was lost)
  help                  this list
  quit                  log out (your character is saved) and exit"""
CHARACTER_HELP = "commands: create NAME, delete NAME, play NAME, back, quit"
MAX_LINE = 4096  # characters of one output line; a longer one (server text) is cut
SYSTEM_STYLE = ("\x1b[1m", "\x1b[0m")  # bold, on a terminal: what the servers say, not players


class Quit(Exception):
    """The user is done (quit, or end of input); ``code`` is the exit status."""

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)
        self.code = code


class Attempt:
    """Whether the calls inside ``TerminalClient.shown_errors`` all succeeded."""

    ok = True


class Console:
    """Prints lines and reads stdin one line per request in a daemon thread, so the event loop never blocks.

    Prompts are shown only on a terminal; through a pipe the output is plain lines. Every line
    is shown as printable text only, whatever a server put in it: control characters, escape
    sequences and invisible format characters are dropped, and a line break becomes a space,
    so text from a server (or another player) can neither act on the terminal nor start a
    line of its own. On a terminal, the servers' own notices are shown in bold, which nothing
    a player writes can be.
    """

    def __init__(self) -> None:
        self.interactive = sys.stdin.isatty()
        self.styled = sys.stdout.isatty()
        self._loop = asyncio.get_running_loop()
        self._requests: queue.SimpleQueue[tuple[str | None, asyncio.Future[str | None]]] = (
            queue.SimpleQueue()
        )
        self._buffer = b""
        self._prompt = ""  # on screen, waiting for an answer
        threading.Thread(target=self._serve, name="stdin", daemon=True).start()

    def say(self, text: str, *, system: bool = False) -> None:
        """Print one line (as printable text only); a waiting prompt is redrawn below it.

        ``system``: the line is a server notice (shown distinctly on a terminal).
        """
        line = clean_text(text, MAX_LINE, squeeze=False)
        if system and self.styled:
            line = SYSTEM_STYLE[0] + line + SYSTEM_STYLE[1]
        out = sys.stdout
        if self._prompt:
            out.write("\r\x1b[K")
        out.write(line + "\n" + self._prompt)
        out.flush()

    def say_lines(self, text: str) -> None:
        """Print the client's own multi-line text, line by line."""
        for line in text.splitlines():
            self.say(line)

    async def ask(self, prompt: str = "> ", *, secret: bool = False) -> str:
        """The next input line (stripped, unless secret); raises Quit at the end of input."""
        use_getpass = secret and self.interactive
        if self.interactive and not use_getpass:
            self._prompt = prompt
            sys.stdout.write(prompt)
            sys.stdout.flush()
        future: asyncio.Future[str | None] = self._loop.create_future()
        self._requests.put((prompt if use_getpass else None, future))
        try:
            line = await future
        finally:
            self._prompt = ""
        if line is None:
            raise Quit(0)
        return line if secret else line.strip()

    def _serve(self) -> None:
        while True:
            getpass_prompt, future = self._requests.get()
            try:
                line = self._read_line() if getpass_prompt is None else getpass.getpass(getpass_prompt)
            except (EOFError, OSError):
                line = None
            try:
                self._loop.call_soon_threadsafe(_resolve, future, line)
            except RuntimeError:  # the loop is closed: the client is exiting
                return

    def _read_line(self) -> str | None:
        while b"\n" not in self._buffer:
            chunk = os.read(0, 4096)  # not sys.stdin: its lock would stall interpreter shutdown
            if not chunk:
                rest, self._buffer = self._buffer, b""
                return rest.decode(errors="replace") if rest else None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def _news(state: ClientState) -> tuple[int, int, str | None, str | None]:
    """What the watcher prints changes of: chat and notice counts, zone loss, a kick."""
    return len(state.chat), len(state.notices), state.zone_lost, state.kicked


def _news_since(seen: tuple[int, int, str | None, str | None], state: ClientState) -> bool:
    return _news(state) != seen


def _heading(dx: float, dy: float) -> str:
    return HEADINGS[round(math.atan2(dy, dx) / (math.pi / 4)) % 8]


class TerminalClient:
    """The menus (login, worlds, characters) and the game prompt, over one GameClient."""

    def __init__(self, client: GameClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.say = console.say
        self.character = ""

    @contextlib.contextmanager
    def shown_errors(self) -> Iterator[Attempt]:
        """Show a failed server call as one line (with its code) instead of raising it."""
        attempt = Attempt()
        try:
            yield attempt
        except RpcError as exc:
            attempt.ok = False
            self.say(f"[error] {exc.code}: {exc.message}")
        except (OSError, TimeoutError) as exc:
            attempt.ok = False
            self.say(f"[error] network: {exc or 'no answer in time'}")

    async def main(self) -> int:
        """Run the menus while printing server events; ends on quit, end of input or a kick."""
        session = asyncio.create_task(self.run())
        watcher = asyncio.create_task(self.watch())
        try:
            await asyncio.wait({session, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if session.done():
                return session.result()
            self.console.say(f"[kicked] {watcher.result()}", system=True)
            return 1
        finally:
            session.cancel()
            watcher.cancel()
            with contextlib.suppress(RpcError, OSError, TimeoutError):
                await asyncio.wait_for(self.client.close(), 15)  # leaves the game: saves

    async def run(self) -> int:
        try:
            await self.login_menu()
            await self.worlds_menu()
        except Quit as done:
            return done.code
        return 0

    async def watch(self) -> str:
        """Print chat, notices and zone loss as they arrive; returns the reason if the server kicks us."""
        state = self.client.state
        seen = _news(state)
        while not state.kicked:
            with contextlib.suppress(TimeoutError):
                await self.client.wait_for(functools.partial(_news_since, seen), timeout=3600)
            chat, notices, lost, _ = seen
            for speaker, text in state.chat[chat:]:
                self.say(f"[chat] {speaker}: {text}")
            for text in state.notices[notices:]:
                self.console.say(f"[notice] {text}", system=True)
            if state.zone_lost and state.zone_lost != lost:
                self.console.say(f"[zone] the zone '{state.zone_lost}' went down;"
                                 " type `play` to enter again", system=True)
            seen = _news(state)
        return state.kicked or ""

    # ---------------------------------------------------------------- menus
    async def login_menu(self) -> None:
        """Register or log in; returns once logged in."""
        while True:
            self.say("[l]ogin / [r]egister / [q]uit")
            choice = (await self.console.ask()).lower()
            if choice in ("q", "quit"):
                raise Quit(0)
            if choice not in ("l", "login", "r", "register"):
                continue
            name = await self.console.ask("account name: ")
            password = await self.console.ask("password: ", secret=True)
            if choice.startswith("r"):
                if self.console.interactive and password != await self.console.ask(
                        "password again: ", secret=True):
                    self.say("[error] the passwords differ")
                    continue
                with self.shown_errors():
                    account = await self.client.register(name, password)
                    self.say(f"account {account.name} created; now log in with it")
            else:
                with self.shown_errors():
                    account = await self.client.login(name, password)
                    self.say(f"logged in as {account.name}")
                    return
            if self.client.master is not None:  # the master closes connections left anonymous
                self.client.master.close("not logged in")

    async def worlds_menu(self) -> None:
        """List the worlds and enter the chosen one (until quit)."""
        while True:
            worlds: list[WorldInfo] = []
            with self.shown_errors():
                worlds = await self.client.worlds()
            self.say("worlds:" if worlds else "no worlds are on the list yet")
            for number, world in enumerate(worlds, 1):
                self.say(f"  {number}. {world.name:<16} {world.status:<5}"
                         f" {world.population}/{world.capacity} players")
            self.say("pick a world by number or name, r to refresh, q to quit")
            answer = await self.console.ask("world> ")
            if answer.lower() in ("q", "quit"):
                raise Quit(0)
            chosen = next((w for n, w in enumerate(worlds, 1)
                           if answer == str(n) or answer.casefold() == w.name.casefold()), None)
            if chosen is None:
                if answer.lower() not in ("", "r"):
                    self.say(f"no world '{answer}'")
                continue
            with self.shown_errors() as attempt:
                welcome = await self.client.enter_world(chosen.name)
            if attempt.ok:
                self.say(f"entered {welcome.world} as {welcome.account_name}")
                await self.characters_menu()

    async def characters_menu(self) -> None:
        """Create, delete and choose characters in the current world; returns on back."""
        listing = True
        while True:
            if listing:
                with self.shown_errors():
                    characters = await self.client.characters()
                    self.say(f"characters in {self.client.world_name}:" if characters
                             else f"no characters in {self.client.world_name} yet")
                    for c in characters:
                        self.say(f"  {c.name} (level {c.level}, in {c.zone})")
                self.say(CHARACTER_HELP)
            command, _, name = (await self.console.ask(f"{self.client.world_name}> ")).partition(" ")
            command, name, listing = command.lower(), name.strip(), True
            if command in ("q", "quit"):
                raise Quit(0)
            if command == "back":
                if self.client.world is not None:
                    self.client.world.close("back to the world list")
                return
            if command not in ("create", "delete", "play") or not name:
                self.say(f"usage: {command} NAME" if command in ("create", "delete", "play")
                         else CHARACTER_HELP)
                listing = False
            elif command == "create":
                with self.shown_errors():
                    created = await self.client.create_character(name)
                    self.say(f"created {created.name}")
            elif command == "delete":
                if self.console.interactive and (await self.console.ask(
                        f"really delete {name}? type yes: ")).lower() != "yes":
                    continue
                with self.shown_errors():
                    await self.client.delete_character(name)
                    self.say(f"deleted {name}")
            elif await self.enter_game(name):
                await self.game()

    # ----------------------------------------------------------------- game
    async def enter_game(self, name: str) -> bool:
        with self.shown_errors() as attempt:
            entered = await self.client.enter_game(name)
        if attempt.ok:
            self.character = name
            self.say(f"you are {name} in zone {entered.zone} at ({entered.x:.1f}, {entered.y:.1f}),"
                     f" walking at {entered.speed:g} units/s")
        return attempt.ok

    async def game(self) -> None:
        """The in-game prompt; only quit (or the end of input) leaves it."""
        self.console.say_lines(GAME_HELP)
        while True:
            line = await self.console.ask(f"{self.character}> ")
            with self.shown_errors():
                await self.game_command(line)

    async def game_command(self, line: str) -> None:
        command, _, rest = line.partition(" ")
        command = command.lower()
        if line.startswith("'") or command == "say":
            text = (line[1:] if line.startswith("'") else rest).strip()
            if text:
                self.client.say(text)  # the zone echoes it back to us as chat
            else:
                self.say("usage: say TEXT")
        elif command in DIRECTIONS:
            heading, dx, dy = DIRECTIONS[command]
            self.client.move(dx, dy)
            self.say(f"walking {heading}")
        elif command == "stop":
            self.client.move(0.0, 0.0)
            self.say("stopped")
        elif command == "look":
            await self.look()
        elif command == "who":
            names = sorted(s.name for s in self.client.state.seen.values())
            self.say(f"in sight: {', '.join(names) or 'nobody'}")
        elif command == "play":
            await self.enter_game(rest.strip() or self.character)
        elif command in ("q", "quit"):
            await self.quit_game()
        elif command == "help":
            self.console.say_lines(GAME_HELP)
        elif command:
            self.say(f"unknown command '{command}'; type help")

    async def look(self) -> None:
        """Own position and everyone in sight, as of the next snapshot (at most one tick away)."""
        entered, state = self.client.entered, self.client.state
        if entered is None or state.zone_lost:
            self.say("you are not in a zone; type `play` to enter again")
            return
        snapshots = state.snapshots
        with contextlib.suppress(TimeoutError):
            await self.client.wait_for(lambda s: s.snapshots > snapshots, timeout=1.0)
        me = self.client.me()
        x, y = (me.x, me.y) if me else (entered.x, entered.y)
        self.say(f"you are at ({x:.1f}, {y:.1f}) in {entered.zone}")
        others = sorted((math.dist((x, y), (s.x, s.y)), s.name, s.x - x, s.y - y)
                        for eid, s in state.seen.items() if eid != entered.entity_id)
        for distance, name, dx, dy in others:
            where = f"{distance:.1f} away to the {_heading(dx, dy)}" if distance >= 0.5 else "right here"
            self.say(f"  {name} at ({x + dx:.1f}, {y + dy:.1f}), {where}")
        if not others:
            self.say("  nobody else in sight")

    async def quit_game(self) -> None:
        """Log out (the zone answers once the character is saved) and end the client."""
        zone = self.client.zone
        in_zone = zone is not None and not zone.closed.is_set()
        with self.shown_errors() as attempt:
            await self.client.leave_game()
        if attempt.ok:
            self.say(f"logged out{f'; {self.character} is saved' if in_zone else ''}. bye")
        raise Quit(0 if attempt.ok else 1)


async def _master_reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _main(host: str, port: int) -> int:
    if not await _master_reachable(host, port):
        print(f"cannot reach the master at {host}:{port} — is `shardkit up` running?", file=sys.stderr)
        return 1
    return await TerminalClient(GameClient(host, port), Console()).main()


def _terminal_restorer() -> Callable[[], None]:
    """Put the terminal back as found at exit (getpass, interrupted in its thread, leaves echo off)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except Exception:  # not a terminal, or no termios on this platform
        return lambda: None
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_terminal_client(host: str, port: int) -> int:
    """The ``shardkit play`` command; returns the exit status."""
    restore = _terminal_restorer()
    try:
        return asyncio.run(_main(host, port))
    except KeyboardInterrupt:
        print()
        return 130
    finally:
        restore()
