"""The plain client's game prompt: walk, fight, talk on every channel, look around, log out."""

from __future__ import annotations

import contextlib
import math

from shardkit.client.events import Seen
from shardkit.client.plain.console import Console, Quit
from shardkit.client.plain.table import Command, CommandTable
from shardkit.client.session import GameClient

__all__ = ["DIRECTIONS", "Game"]

DIRECTIONS: dict[str, tuple[str, float, float]] = {
    "n": ("north", 0, 1), "s": ("south", 0, -1), "e": ("east", 1, 0), "w": ("west", -1, 0),
    "ne": ("north-east", 1, 1), "nw": ("north-west", -1, 1),
    "se": ("south-east", 1, -1), "sw": ("south-west", -1, -1),
}  # the zone scales diagonals to unit length; y grows to the north
HEADINGS = ("east", "north-east", "north", "north-west", "west", "south-west", "south",
            "south-east")
_HELP_WIDTH = 21  # of the left column of the help


def _heading(dx: float, dy: float) -> str:
    return HEADINGS[round(math.atan2(dy, dx) / (math.pi / 4)) % 8]


def _condition(eid: int, seen: Seen) -> str:
    """How an entity in sight is doing, for `look`: kind, level, health, id."""
    kind = "player" if seen.kind == 1 else "creature"
    health = "dead" if seen.dead else f"hp {seen.hp}/{seen.max_hp}"
    return f" [{kind}, level {seen.level}, {health}, id {eid}]"


class Game:
    """The in-game prompt of one character, over a GameClient."""

    def __init__(self, client: GameClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.say = console.say
        self.character = ""
        first, *others = DIRECTIONS
        self.commands = CommandTable(
            Command(first, self._walk, "start walking that way (north is +y)",
                    aliases=tuple(others), synopsis=" ".join(DIRECTIONS)),
            Command("stop", self._stop, "stand still"),
            Command("say", self._say, "talk to the players near you",
                    synopsis="say TEXT  or  'TEXT", prefix="'"),
            Command("zone", self._zone, "talk to everyone in the zone", argument="TEXT"),
            Command("world", self._world, "talk to everyone in the world", argument="TEXT"),
            Command("tell", self._tell, "whisper to one character anywhere in the world",
                    synopsis="tell NAME TEXT"),
            Command("attack", self._attack, "attack the nearest one of that name (or id)",
                    aliases=("a",), argument="NAME"),
            Command("look", self._look, "where you are and everyone you can see"),
            Command("who", self._who, "who is in sight"),
            Command("stats", self._stats, "your level, experience, health, gold and items"),
            Command("play", self._play, "enter the game again (after the zone was lost)",
                    synopsis="play [NAME]"),
            Command("help", self._help, "this list"),
            Command("quit", self._quit, "log out (your character is saved) and exit",
                    aliases=("q",)),
        )

    def help_text(self) -> str:
        return "\n".join(["commands:", *self.commands.help_rows(_HELP_WIDTH)])

    async def enter(self, name: str) -> bool:
        """Enter the game as ``name``; False (the error shown) if the servers refused."""
        with self.console.shown_errors() as attempt:
            entered = await self.client.enter_game(name)
        if attempt.ok:
            self.character = name
            self.say(f"you are {name} in zone {entered.zone} at ({entered.x:.1f}, {entered.y:.1f}),"
                     f" walking at {entered.speed:g} units/s")
        return attempt.ok

    async def run(self) -> None:
        """The in-game prompt; only quit (or the end of input) leaves it."""
        self.console.say_lines(self.help_text())
        while True:
            line = await self.console.ask(f"{self.character}> ")
            with self.console.shown_errors():
                await self.command(line)

    async def command(self, line: str) -> None:
        command, word, rest = self.commands.parse(line)
        if command is not None:
            await command.handler(word, rest)
        elif word:
            self.say(f"unknown command '{word}'; type help")

    # ------------------------------------------------------------ commands
    async def _say(self, word: str, text: str) -> None:
        if text:
            self.client.say(text)  # the zone echoes it back to us as chat
        else:
            self.say("usage: say TEXT")

    async def _zone(self, word: str, text: str) -> None:
        if text:
            await self.client.zone_say(text)
        else:
            self.say("usage: zone TEXT")

    async def _world(self, word: str, text: str) -> None:
        if text:
            await self.client.world_say(text)
        else:
            self.say("usage: world TEXT")

    async def _tell(self, word: str, rest: str) -> None:
        name, _, text = rest.partition(" ")
        if not (name and text.strip()):
            self.say("usage: tell NAME TEXT")
            return
        await self.client.whisper(name, text.strip())
        self.say(f"you whisper to {name}: {text.strip()}")

    async def _attack(self, word: str, target: str) -> None:
        if not target:
            self.say("usage: attack NAME")
            return
        found = self._target(target)
        if found is None:
            self.say(f"nothing called '{target}' in sight")
            return
        eid, seen = found
        self.client.attack(eid)
        self.say(f"you attack {seen.name}")

    def _target(self, wanted: str) -> tuple[int, Seen] | None:
        """The entity in sight with that id, or the nearest living one whose name starts so."""
        state, me = self.client.state, self.client.me()
        own = self.client.entered.entity_id if self.client.entered else 0
        if wanted.isdigit() and int(wanted) in state.seen:
            return int(wanted), state.seen[int(wanted)]
        folded = wanted.casefold()
        matches = [(eid, s) for eid, s in state.seen.items()
                   if eid != own and not s.dead and s.name.casefold().startswith(folded)]
        if not matches:
            return None
        x, y = (me.x, me.y) if me else (0.0, 0.0)
        return min(matches, key=lambda m: math.dist((x, y), (m[1].x, m[1].y)))

    async def _stats(self, word: str, rest: str) -> None:
        progress, me = self.client.state.progress, self.client.me()
        health = f", hp {me.hp}/{me.max_hp}" if me else ""
        self.say(f"level {progress.level}, {progress.xp} experience{health},"
                 f" {progress.gold} gold")
        items = ", ".join(f"{count} x {item}" for item, count in sorted(progress.items.items()))
        self.say(f"items: {items or 'none'}")

    async def _walk(self, word: str, rest: str) -> None:
        heading, dx, dy = DIRECTIONS[word]
        self.client.move(dx, dy)
        self.say(f"walking {heading}")

    async def _stop(self, word: str, rest: str) -> None:
        self.client.move(0.0, 0.0)
        self.say("stopped")

    async def _who(self, word: str, rest: str) -> None:
        names = sorted(s.name for s in self.client.state.seen.values())
        self.say(f"in sight: {', '.join(names) or 'nobody'}")

    async def _play(self, word: str, name: str) -> None:
        client = self.client
        if (client.world is None or client.world.closed.is_set()) and client.world_name:
            with self.console.shown_errors() as attempt:  # the world went down meanwhile
                await client.enter_world(client.world_name)
            if not attempt.ok:
                return
        await self.enter(name or self.character)

    async def _help(self, word: str, rest: str) -> None:
        self.console.say_lines(self.help_text())

    async def _look(self, word: str, rest: str) -> None:
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
        others = sorted((math.dist((x, y), (s.x, s.y)), s.name, s.x - x, s.y - y, eid, s)
                        for eid, s in state.seen.items() if eid != entered.entity_id)
        for distance, name, dx, dy, eid, seen in others:
            where = (f"{distance:.1f} away to the {_heading(dx, dy)}" if distance >= 0.5
                     else "right here")
            self.say(f"  {name} at ({x + dx:.1f}, {y + dy:.1f}), {where}{_condition(eid, seen)}")
        if not others:
            self.say("  nobody else in sight")

    async def _quit(self, word: str, rest: str) -> None:
        """Log out (the zone answers once the character is saved) and end the client."""
        zone = self.client.zone
        in_zone = zone is not None and not zone.closed.is_set()
        with self.console.shown_errors() as attempt:
            await self.client.leave_game()
        if attempt.ok:
            self.say(f"logged out{f'; {self.character} is saved' if in_zone else ''}. bye")
        raise Quit(0 if attempt.ok else 1)
