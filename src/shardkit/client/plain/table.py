"""Command tables for the plain client: one declaration per command gives its dispatch and help."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

__all__ = ["Command", "CommandTable", "Handler"]

#: ``async def handler(word, rest)``: the command word as typed (lower case) and the rest of the
#: line, stripped. Returns True to leave the menu the table belongs to.
Handler = Callable[[str, str], Awaitable[bool | None]]


@dataclass(frozen=True)
class Command:
    """One command: its name and aliases, how help shows it, what it does."""

    name: str
    handler: Handler
    help: str = ""
    aliases: tuple[str, ...] = ()
    synopsis: str = ""  #: how help writes it (default: the name, then ``argument`` if any)
    argument: str = ""  #: a required argument (``NAME``): without it, a usage line is shown
    prefix: str = ""  #: a line starting with this runs the command on the rest (``'hello``)

    def __post_init__(self) -> None:
        for word in (self.name, *self.aliases):
            if not word or word != word.lower() or any(ch.isspace() for ch in word):
                raise ValueError(f"command word {word!r}: one lower-case word expected")

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def shown(self) -> str:
        """The command as help lists it."""
        if self.synopsis:
            return self.synopsis
        return f"{self.name} {self.argument}" if self.argument else self.name

    @property
    def menu_label(self) -> str:
        """``[l]ogin`` for a command ``login`` with the alias ``l``."""
        short = next((a for a in self.aliases if self.name.startswith(a)), "")
        return f"[{short}]{self.name[len(short):]}" if short else self.name


class CommandTable:
    """The commands of one menu or prompt, found by any of their words (case-insensitive)."""

    def __init__(self, *commands: Command) -> None:
        self._commands = commands
        self._by_word: dict[str, Command] = {}
        for command in commands:
            for word in command.words:
                if word in self._by_word:
                    raise ValueError(f"command word {word!r} is declared twice")
                self._by_word[word] = command

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)

    def find(self, word: str) -> Command | None:
        return self._by_word.get(word.lower())

    def parse(self, line: str) -> tuple[Command | None, str, str]:
        """``(command or None, word as typed in lower case, rest of the line stripped)``."""
        for command in self._commands:
            if command.prefix and line.startswith(command.prefix):
                return command, command.prefix, line[len(command.prefix):].strip()
        word, _, rest = line.partition(" ")
        word = word.lower()
        return self.find(word), word, rest.strip()

    def help_rows(self, width: int) -> list[str]:
        """One indented row per command: how it is written, then what it does."""
        return [f"  {command.shown:<{width}} {command.help}" for command in self._commands]

    def listing(self) -> str:
        """The commands as one comma-separated line."""
        return ", ".join(command.shown for command in self._commands)
