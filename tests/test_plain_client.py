"""The plain client's menus and game prompt in-process: a scripted console, a stand-in client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from shardkit.characters.schemas import CharacterSummary
from shardkit.client.events import CombatLine, Seen
from shardkit.client.plain.app import TerminalClient
from shardkit.client.plain.console import Console, Quit
from shardkit.client.plain.game import Game
from shardkit.client.plain.menus import Menus
from shardkit.client.plain.table import Command, CommandTable
from shardkit.client.session import ClientState, GameClient
from shardkit.master.schemas import AccountInfo, WorldInfo
from shardkit.wire.rpc import RpcError
from shardkit.world.schemas import Welcome
from shardkit.zone.schemas import Entered

pytestmark = pytest.mark.timeout(10)


class ScriptedConsole(Console):
    """Answers prompts from a script (the end of it is the end of input); records every line."""

    def __init__(self, *answers: str, interactive: bool = False) -> None:  # no stdin thread
        self.answers = list(answers)
        self.interactive = interactive
        self.styled = False
        self.shown: list[str] = []
        self.prompts: list[str] = []

    def say(self, text: str, *, system: bool = False) -> None:
        self.shown.append(text)

    async def ask(self, prompt: str = "> ", *, secret: bool = False) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise Quit(0)
        answer = self.answers.pop(0)
        return answer if secret else answer.strip()


class Closable:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def close(self, reason: str = "closed") -> None:
        self.reasons.append(reason)


class StandInClient:
    """What the menus call on a GameClient, answered from memory."""

    def __init__(self) -> None:
        self.state = ClientState()
        self.master: Closable | None = Closable()
        self.world: Closable | None = Closable()
        self.zone: Any = None
        self.entered: Entered | None = None
        self.world_name = "Atlantis"
        self.characters_: list[CharacterSummary] = []
        self.moves: list[tuple[float, float]] = []
        self.said: list[str] = []

    async def login(self, name: str, password: str) -> AccountInfo:
        if password != "right":
            raise RpcError("auth_failed", "wrong name or password")
        return AccountInfo(account_id=1, name=name, role="player")

    async def worlds(self) -> list[WorldInfo]:
        return [WorldInfo("Atlantis", "up", 3, 100)]

    async def enter_world(self, name: str) -> Welcome:
        return Welcome(world=name, cluster=0, account_id=1, account_name="ann")

    async def characters(self) -> list[CharacterSummary]:
        return list(self.characters_)

    async def create_character(self, name: str) -> CharacterSummary:
        created = CharacterSummary(id=len(self.characters_) + 1, name=name, zone="town", level=1)
        self.characters_.append(created)
        return created

    async def enter_game(self, name: str) -> Entered:
        if name not in [c.name for c in self.characters_]:
            raise RpcError("no_such_character", f"no character {name!r}")
        self.entered = Entered(entity_id=1, zone="town", x=100.0, y=100.0, tick_hz=10.0, speed=4.0)
        return self.entered

    async def leave_game(self) -> bool:
        return True

    def move(self, dx: float, dy: float) -> None:
        self.moves.append((dx, dy))

    def say(self, text: str) -> None:
        self.said.append(text)


def build(*answers: str) -> tuple[Menus, ScriptedConsole, StandInClient]:
    console, client = ScriptedConsole(*answers), StandInClient()
    game_client = cast(GameClient, client)
    return Menus(game_client, console, Game(game_client, console)), console, client


async def until_quit(run: Callable[[], Awaitable[None]]) -> int:
    with pytest.raises(Quit) as done:
        await run()
    return done.value.code


async def test_login_menu_shows_the_menu_until_logged_in() -> None:
    menus, console, client = build("x", "l", "ann", "wrong", "LOGIN", "ann", "right", "never")
    await menus.login_menu()
    assert console.shown == [
        "[l]ogin / [r]egister / [q]uit", "[l]ogin / [r]egister / [q]uit",
        "[error] auth_failed: wrong name or password",
        "[l]ogin / [r]egister / [q]uit", "logged in as ann",
    ]
    assert client.master is not None  # closed once: after the failed try, not after "x"
    assert client.master.reasons == ["not logged in"]
    assert console.answers == ["never"]


async def test_worlds_menu_commands_and_unknown_world() -> None:
    menus, console, _ = build("nowhere", "", "r", "q")
    assert await until_quit(menus.worlds_menu) == 0
    assert console.shown.count("pick a world by number or name, r to refresh, q to quit") == 4
    assert console.shown.count("no world 'nowhere'") == 1
    assert "  1. Atlantis         up    3/100 players" in console.shown


async def test_characters_menu_usage_help_create_play_and_back() -> None:
    menus, console, client = build(
        "create", "frobnicate", "create Bob", "play Nobody", "back now")
    await menus.characters_menu()
    help_line = "commands: create NAME, delete NAME, play NAME, back, quit"
    assert console.shown == [
        "no characters in Atlantis yet", help_line,
        "usage: create NAME",
        help_line,
        "created Bob", "characters in Atlantis:", "  Bob (level 1, in town)", help_line,
        "[error] no_such_character: no character 'Nobody'",
        "characters in Atlantis:", "  Bob (level 1, in town)", help_line,
    ]
    assert client.world is not None and client.world.reasons == ["back to the world list"]


async def test_game_prompt_commands() -> None:
    menus, console, client = build("N", "'hi there", "say", "dance", "", "who", "stop", "q")
    client.characters_.append(CharacterSummary(id=1, name="Bob", zone="town", level=1))
    game = menus.game
    assert await game.enter("Bob")
    console.shown.clear()
    assert await until_quit(game.run) == 0
    help_lines = game.help_text().splitlines()
    assert console.shown[:len(help_lines)] == help_lines  # the help, once
    assert console.shown[0] == "commands:" and help_lines[-1].startswith("  quit ")
    assert console.shown[len(help_lines):] == [
        "walking north", "usage: say TEXT", "unknown command 'dance'; type help",
        "in sight: nobody", "stopped", "logged out. bye",
    ]
    assert client.moves == [(0, 1), (0.0, 0.0)] and client.said == ["hi there"]
    assert console.prompts == ["Bob> "] * 8


def test_command_tables_refuse_clashing_or_odd_words() -> None:
    async def noop(word: str, rest: str) -> None:
        return None

    with pytest.raises(ValueError, match="'q' is declared twice"):
        CommandTable(Command("quit", noop, aliases=("q",)), Command("q", noop))
    for word in ("", "Two", "two words"):
        with pytest.raises(ValueError, match="one lower-case word"):
            Command(word, noop)
    table = CommandTable(Command("play", noop, argument="NAME"))
    assert table.listing() == "play NAME"
    assert table.parse("PLAY  Bob ")[1:] == ("play", "Bob")


class FightingClient(StandInClient):
    """A stand-in that is in a zone with a wolf in sight, and records chat and attacks."""

    def __init__(self) -> None:
        super().__init__()
        self.chatted: list[tuple[str, str]] = []
        self.attacked: list[int] = []
        self.state.seen = {
            1: Seen("Bob", 100.0, 100.0, 1, 1, 100, 100, 1, 0),
            7: Seen("Grey Wolf", 110.0, 100.0, 1, 2, 40, 40, 2, 0),
            8: Seen("Grey Wolf", 104.0, 100.0, 1, 2, 0, 40, 2, 1),  # dead: not a target
        }
        self.state.progress.gold, self.state.progress.items = 12, {"wolf_pelt": 2}

    def me(self) -> Seen | None:
        return self.state.seen.get(1)

    async def zone_say(self, text: str) -> None:
        self.chatted.append(("zone", text))

    async def world_say(self, text: str) -> None:
        self.chatted.append(("world", text))

    async def whisper(self, to: str, text: str) -> None:
        if to.casefold() != "ann":
            raise RpcError("offline", "nobody of that name is playing in this world now")
        self.chatted.append((f"whisper {to}", text))

    def attack(self, target: int) -> None:
        self.attacked.append(target)


async def test_game_prompt_chat_channels_attack_and_stats() -> None:
    console, client = ScriptedConsole("zone hi all", "world hello", "tell ann psst", "tell",
                                      "tell Zed hello?", "attack grey", "attack 7", "a troll",
                                      "stats", "q"), FightingClient()
    game_client = cast(GameClient, client)
    game = Game(game_client, console)
    client.characters_.append(CharacterSummary(id=1, name="Bob", zone="town", level=1))
    assert await game.enter("Bob")
    console.shown.clear()
    assert await until_quit(game.run) == 0
    shown = console.shown[len(game.help_text().splitlines()):]
    assert shown == [
        "you whisper to ann: psst", "usage: tell NAME TEXT",
        "[error] offline: nobody of that name is playing in this world now",
        "you attack Grey Wolf", "you attack Grey Wolf", "nothing called 'troll' in sight",
        "level 1, 0 experience, hp 100/100, 12 gold", "items: 2 x wolf_pelt", "logged out. bye",
    ]
    assert client.chatted == [("zone", "hi all"), ("world", "hello"), ("whisper ann", "psst")]
    assert client.attacked == [7, 7]  # the living wolf, by name and by id


def test_combat_lines_about_us_or_deaths_in_sight_are_told() -> None:
    client = FightingClient()
    client.entered = Entered(entity_id=1, zone="town", x=100.0, y=100.0, tick_hz=10.0, speed=8.0)
    terminal = TerminalClient(cast(GameClient, client), ScriptedConsole())
    told = [terminal.combat_text(line) for line in (
        CombatLine(5, "hit", 1, 7, 8), CombatLine(5, "hit", 7, 1, 6), CombatLine(6, "hit", 9, 7, 3),
        CombatLine(7, "death", 1, 7, 0), CombatLine(8, "death", 0, 9, 0),
        CombatLine(9, "level_up", 1, 1, 2))]
    assert told == ["you hit Grey Wolf for 8", "Grey Wolf hit you for 6 (100 hp left)", "",
                    "Grey Wolf died, killed by you", "#9 died", ""]


async def test_play_after_the_world_went_down_enters_the_world_again() -> None:
    """Once the client gave up following its world, `play` logs in to the world first (it
    answered `not_in_world` before)."""
    menus, console, client = build("play", "q")
    client.characters_.append(CharacterSummary(id=1, name="Bob", zone="town", level=1))
    game = menus.game
    assert await game.enter("Bob")
    client.world = None  # the world server went down, and getting back in by itself failed
    worlds: list[str] = []
    enter_world = client.enter_world

    async def entering_world(name: str) -> Welcome:
        worlds.append(name)
        client.world = Closable()
        return await enter_world(name)

    client.enter_world = entering_world  # type: ignore[method-assign]
    console.shown.clear()
    assert await until_quit(game.run) == 0
    assert worlds == ["Atlantis"]
    assert "you are Bob in zone town at (100.0, 100.0), walking at 4 units/s" in console.shown
