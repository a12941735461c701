"""The plain client as a whole: menus and game over one GameClient, server events as they come."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable

from shardkit.client.events import CombatLine
from shardkit.client.plain.console import Console, Quit
from shardkit.client.plain.game import Game
from shardkit.client.plain.menus import Menus
from shardkit.client.session import ClientState, GameClient
from shardkit.wire.rpc import RpcError

__all__ = ["TerminalClient", "run_terminal_client"]


News = tuple[int, int, int, str | None, str | None]

CHANNEL_TAGS = {"say": "chat", "zone": "zone", "world": "world", "whisper": "whisper"}


def _news(state: ClientState) -> News:
    """What the watcher prints changes of: chat, notices and combat counts, zone loss, a kick."""
    return (len(state.heard), len(state.notices), state.combat_total, state.zone_lost,
            state.kicked)


def _news_since(seen: News, state: ClientState) -> bool:
    return _news(state) != seen


class TerminalClient:
    """The menus (login, worlds, characters) and the game prompt, over one GameClient."""

    def __init__(self, client: GameClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.menus = Menus(client, console, Game(client, console))

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
            await self.menus.login_menu()
            await self.menus.worlds_menu()
        except Quit as done:
            return done.code
        return 0

    async def watch(self) -> str:
        """Print chat, notices and zone loss as they arrive; returns the reason of a kick."""
        state = self.client.state
        seen = _news(state)
        while not state.kicked:
            with contextlib.suppress(TimeoutError):
                await self.client.wait_for(functools.partial(_news_since, seen), timeout=3600)
            chat, notices, combat, lost, _ = seen
            for channel, speaker, text in state.heard[chat:]:
                self.console.say(f"[{CHANNEL_TAGS.get(channel, 'chat')}] {speaker}: {text}")
            for text in state.notices[notices:]:
                self.console.say(f"[notice] {text}", system=True)
            fresh = min(state.combat_total - combat, len(state.combat))
            for line in list(state.combat)[len(state.combat) - fresh:]:
                shown = self.combat_text(line)
                if shown:
                    self.console.say(f"[combat] {shown}", system=True)
            if state.rejoin_failed and notices < len(state.notices) and \
                    state.rejoin_failed in state.notices[notices:]:
                self.console.say("[world] type `play` to enter the world and the game again",
                                 system=True)
            if state.zone_lost and state.zone_lost != lost:
                self.console.say(f"[zone] the zone '{state.zone_lost}' went down;"
                                 " type `play` to enter again", system=True)
            seen = _news(state)
        return state.kicked or ""

    def combat_text(self, line: CombatLine) -> str:
        """A combat line as words, if it is about us or a death in sight ("" otherwise)."""
        entered = self.client.entered
        me = entered.entity_id if entered else 0
        seen = self.client.state.seen

        def name(eid: int) -> str:
            if eid == me:
                return "you"
            entity = seen.get(eid)
            return entity.name if entity else f"#{eid}"

        if line.kind == "hit" and me in (line.source, line.target):
            target = seen.get(line.target)
            left = f" ({target.hp} hp left)" if target and line.target == me else ""
            return f"{name(line.source)} hit {name(line.target)} for {line.value}{left}"
        if line.kind == "death":
            killer = f", killed by {name(line.source)}" if line.source else ""
            return f"{name(line.target)} died{killer}"
        if line.kind == "level_up" and line.target != me:
            return f"{name(line.target)} reached level {line.value}"
        return ""


async def _master_reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _main(host: str, port: int) -> int:
    if not await _master_reachable(host, port):
        print(f"cannot reach the master at {host}:{port} — is `shardkit up` running?",
              file=sys.stderr)
        return 1
    return await TerminalClient(GameClient(host, port), Console()).main()


def _terminal_restorer() -> Callable[[], None]:
    """Put the terminal back as found at exit (getpass, interrupted in its thread, can leave
    echo off)."""
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
