"""Admin-console command registry: named async handlers, shlex parsing, built-in help."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Awaitable, Callable

__all__ = ["EXIT_COMMANDS", "CommandHandler", "CommandSet", "UsageError", "int_arg"]

log = logging.getLogger("shardkit.console")

#: ``async def handler(args) -> str``: args are the shlex-split words after the command name.
CommandHandler = Callable[[list[str]], Awaitable[str]]

#: Words that end a console session; the transports (telnet, SSH) handle them, not CommandSet.
EXIT_COMMANDS: frozenset[str] = frozenset({"quit", "exit"})


class UsageError(Exception):
    """A command's arguments are wrong: the message (one line, e.g. ``usage: ...``) is the answer.

    Raised by handlers (and :func:`int_arg`); :meth:`CommandSet.execute` shows it as it is and
    logs nothing, since it is the operator's typo, not a fault of the server.
    """


def int_arg(args: list[str], index: int, *, default: int, low: int, high: int, usage: str) -> int:
    """``args[index]`` as an integer in ``low..high`` (``default`` when absent), else UsageError."""
    if index >= len(args):
        return default
    text = args[index]
    if not text.isascii() or not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise UsageError(f"{usage} ({text[:20]!r} is not a number from {low} to {high})")
    return int(text)


class CommandSet:
    """The commands one console offers. ``help`` is built in; ``quit``/``exit`` are reserved."""

    def __init__(self) -> None:
        self._commands: dict[str, tuple[str, CommandHandler]] = {}
        self.add("help", "list commands, or show help for one: help [command]", self._help)

    def add(self, name: str, help: str, handler: CommandHandler) -> None:
        """Register ``handler`` under ``name`` with a one-line ``help`` text."""
        if not name or name != name.strip() or any(ch.isspace() for ch in name):
            raise ValueError(f"invalid command name {name!r}")
        if name in EXIT_COMMANDS:
            raise ValueError(f"command name {name!r} is reserved: it ends the session")
        if name in self._commands:
            raise ValueError(f"command {name!r} is already registered")
        if not callable(handler):
            raise TypeError(f"handler for command {name!r} is not callable")
        self._commands[name] = (" ".join(help.split()), handler)

    def command(self, name: str, help: str) -> Callable[[CommandHandler], CommandHandler]:
        """Decorator form of :meth:`add`: ``@commands.command("name", "help text")``."""

        def register(handler: CommandHandler) -> CommandHandler:
            self.add(name, help, handler)
            return handler

        return register

    def names(self) -> list[str]:
        """Registered command names, sorted."""
        return sorted(self._commands)

    def __contains__(self, name: object) -> bool:
        return name in self._commands

    async def execute(self, line: str) -> str:
        """Run one input line and return the text to show.

        Never raises for bad input or a failing handler: those come back as error text.
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"error: cannot parse line: {exc}"
        if not words:
            return ""
        name, args = words[0], words[1:]
        if name in EXIT_COMMANDS:
            return f"'{name}' ends the session"
        entry = self._commands.get(name)
        if entry is None:
            return f"unknown command '{name}'; type 'help'"
        handler = entry[1]
        try:
            result = await handler(args)
        except UsageError as exc:
            return " ".join(str(exc).split()) or f"usage: see 'help {name}'"
        except Exception as exc:  # a failing command must not end the session
            log.exception("console: command %r failed", name)
            return f"error: {exc}" if str(exc) else f"error: {type(exc).__name__}"
        if result is None:
            return ""
        return result if isinstance(result, str) else str(result)

    async def _help(self, args: list[str]) -> str:
        if args:
            entry = self._commands.get(args[0])
            if entry is not None:
                return f"{args[0]} - {entry[0]}"
            if args[0] in EXIT_COMMANDS:
                return f"{args[0]} - end the session"
            return f"unknown command '{args[0]}'; type 'help'"
        rows = {name: text for name, (text, _handler) in self._commands.items()}
        rows.update({name: "end the session" for name in EXIT_COMMANDS})
        width = max(len(name) for name in rows)
        return "\n".join(f"{name.ljust(width)}  {rows[name]}" for name in sorted(rows))
