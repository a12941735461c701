"""The plain client's menus before the game: log in or register, pick a world, pick a character."""

from __future__ import annotations

from shardkit.client.plain.console import Console, Quit
from shardkit.client.plain.game import Game
from shardkit.client.plain.table import Command, CommandTable
from shardkit.client.session import GameClient
from shardkit.master.schemas import WorldInfo

__all__ = ["Menus"]


async def _quit(word: str, rest: str) -> None:
    raise Quit(0)


def _quit_command(help: str = "") -> Command:
    return Command("quit", _quit, help, aliases=("q",))


class Menus:
    """Login, world list and character list, one command table each; the game comes after."""

    def __init__(self, client: GameClient, console: Console, game: Game) -> None:
        self.client = client
        self.console = console
        self.say = console.say
        self.game = game
        self.login_commands = CommandTable(
            Command("login", self._login, "log in to an account", aliases=("l",)),
            Command("register", self._register, "create an account", aliases=("r",)),
            _quit_command(),
        )
        self.world_commands = CommandTable(
            Command("refresh", self._refresh, "refresh", aliases=("r",)),
            _quit_command("quit"),
        )
        self.character_commands = CommandTable(
            Command("create", self._create, argument="NAME"),
            Command("delete", self._delete, argument="NAME"),
            Command("play", self._play, argument="NAME"),
            Command("back", self._back),
            _quit_command(),
        )
        self.logged_in = False

    # ---------------------------------------------------------------- login
    async def login_menu(self) -> None:
        """Register or log in; returns once logged in."""
        menu = " / ".join(command.menu_label for command in self.login_commands)
        while not self.logged_in:
            self.say(menu)
            command = self.login_commands.find(await self.console.ask())
            if command is None:
                continue
            await command.handler(command.name, "")
            if not self.logged_in and self.client.master is not None:
                self.client.master.close("not logged in")  # the master closes anonymous ones

    async def _login(self, word: str, rest: str) -> None:
        name = await self.console.ask("account name: ")
        password = await self.console.ask("password: ", secret=True)
        with self.console.shown_errors():
            account = await self.client.login(name, password)
            self.say(f"logged in as {account.name}")
            self.logged_in = True

    async def _register(self, word: str, rest: str) -> None:
        name = await self.console.ask("account name: ")
        password = await self.console.ask("password: ", secret=True)
        if self.console.interactive and password != await self.console.ask(
                "password again: ", secret=True):
            self.say("[error] the passwords differ")
            return
        with self.console.shown_errors():
            account = await self.client.register(name, password)
            self.say(f"account {account.name} created; now log in with it")

    # --------------------------------------------------------------- worlds
    async def worlds_menu(self) -> None:
        """List the worlds and enter the chosen one (until quit)."""
        choices = ", ".join(f"{command.aliases[0]} to {command.help}"
                            for command in self.world_commands)
        while True:
            worlds: list[WorldInfo] = []
            with self.console.shown_errors():
                worlds = await self.client.worlds()
            self.say("worlds:" if worlds else "no worlds are on the list yet")
            for number, world in enumerate(worlds, 1):
                self.say(f"  {number}. {world.name:<16} {world.status:<5}"
                         f" {world.population}/{world.capacity} players")
            self.say(f"pick a world by number or name, {choices}")
            answer = await self.console.ask("world> ")
            command = self.world_commands.find(answer)
            if command is not None:
                await command.handler(command.name, "")
                continue
            chosen = next((w for n, w in enumerate(worlds, 1)
                           if answer == str(n) or answer.casefold() == w.name.casefold()), None)
            if chosen is not None:
                await self._enter_world(chosen.name)
            elif answer:
                self.say(f"no world '{answer}'")

    async def _refresh(self, word: str, rest: str) -> None:
        """Nothing to do: the menu lists the worlds again."""

    async def _enter_world(self, name: str) -> None:
        with self.console.shown_errors() as attempt:
            welcome = await self.client.enter_world(name)
        if attempt.ok:
            self.say(f"entered {welcome.world} as {welcome.account_name}")
            await self.characters_menu()

    # ----------------------------------------------------------- characters
    async def characters_menu(self) -> None:
        """Create, delete and choose characters in the current world; returns on back."""
        help_line = f"commands: {self.character_commands.listing()}"
        listing = True
        while True:
            if listing:
                await self._list_characters()
                self.say(help_line)
            command, word, name = self.character_commands.parse(
                await self.console.ask(f"{self.client.world_name}> "))
            listing = True
            if command is None:
                self.say(help_line)
                listing = False
            elif command.argument and not name:
                self.say(f"usage: {word} {command.argument}")
                listing = False
            elif await command.handler(word, name):
                return

    async def _list_characters(self) -> None:
        world = self.client.world_name
        with self.console.shown_errors():
            characters = await self.client.characters()
            self.say(f"characters in {world}:" if characters else f"no characters in {world} yet")
            for c in characters:
                self.say(f"  {c.name} (level {c.level}, in {c.zone})")

    async def _create(self, word: str, name: str) -> None:
        with self.console.shown_errors():
            created = await self.client.create_character(name)
            self.say(f"created {created.name}")

    async def _delete(self, word: str, name: str) -> None:
        if self.console.interactive and (await self.console.ask(
                f"really delete {name}? type yes: ")).lower() != "yes":
            return
        with self.console.shown_errors():
            await self.client.delete_character(name)
            self.say(f"deleted {name}")

    async def _play(self, word: str, name: str) -> None:
        if await self.game.enter(name):
            await self.game.run()

    async def _back(self, word: str, rest: str) -> bool:
        if self.client.world is not None:
            self.client.world.close("back to the world list")
        return True
