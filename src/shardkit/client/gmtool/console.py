"""The GM tool at a prompt (history, tab completion of commands and online characters) or from
a script (``--exec``: one command line after another, stopping at the first that fails).

Exit codes of a script: 0 every command done; 1 the server refused one or it failed; 2 a
command line was wrong (unknown command, bad words).
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.shortcuts import print_formatted_text

from shardkit.client.gm import GMClient
from shardkit.client.gmtool.commands import CHARACTER, COMMANDS, Line, UsageError
from shardkit.client.gmtool.format import shown
from shardkit.wire.rpc import RpcError

REFUSALS = ("forbidden", "rate_limited")
NAMES_FRESH_S = 2.0  # how long a looked-up list of names is used for completion
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def help_text(name: str = "") -> str:
    if name:
        command = COMMANDS.get(name)
        if command is None:
            raise UsageError(f"no command '{shown(name, 30)}'; type help")
        return f"{command.usage}\n  {command.summary}"
    width = max(len(n) for n in COMMANDS)
    lines = [f"{n.ljust(width)}  {c.summary}" for n, c in COMMANDS.items()]
    lines += ["help [command]".ljust(width) + "  this list, or one command's words",
              "quit".ljust(width) + "  leave (Ctrl-D too)",
              "A character is Name or World/Name; options are key=value (world=Atlantis)."]
    return "\n".join(lines)


def refusal(exc: RpcError) -> str:
    """What the game master reads when the server says no."""
    what = "refused" if exc.code in REFUSALS else f"failed ({exc.code})"
    return f"{what}: {shown(exc.message, 500)}"


class GMTool:
    """Runs command lines for one logged-in game master."""

    def __init__(self, client: GMClient) -> None:
        self.client = client

    async def run_line(self, text: str) -> str:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"cannot read that line: {exc}") from None
        if not words:
            return ""
        name = words[0].lower()
        if name == "help":
            return help_text(words[1].lower() if len(words) > 1 else "")
        command = COMMANDS.get(name)
        if command is None:
            raise UsageError(f"no command '{shown(name, 30)}'; type help")
        line = Line.parse(words[1:], command.keys)
        command.check(line)
        return await command.run(self.client.api, line)


class Completions(Completer):
    """Completes command names, fixed words, and the names of characters in play now."""

    def __init__(self, tool: GMTool) -> None:
        self.tool = tool
        self._names: dict[str, tuple[float, list[str]]] = {}

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        words = document.text_before_cursor.split(" ")
        if len(words) == 1:
            names = [*COMMANDS, "help", "quit"]
            yield from (Completion(n, -len(words[0])) for n in names if n.startswith(words[0]))
            return
        command = COMMANDS.get(words[0].lower())
        position = len([w for w in words[1:-1] if w and "=" not in w])
        if command is not None and position in command.choices:
            word = words[-1]
            yield from (Completion(c, -len(word)) for c in command.choices[position]
                        if c.startswith(word))

    async def get_completions_async(self, document: Document, complete_event: CompleteEvent
                                    ) -> AsyncGenerator[Completion, None]:
        for completion in self.get_completions(document, complete_event):
            yield completion
        words = document.text_before_cursor.split(" ")
        command = COMMANDS.get(words[0].lower()) if len(words) > 1 else None
        if command is None:
            return
        position = len([w for w in words[1:-1] if w and "=" not in w])
        if position >= len(command.completes) or command.completes[position] != CHARACTER:
            return
        word = words[-1]
        world, slash, prefix = word.rpartition("/")
        for name in await self._online(prefix):
            if name.casefold().startswith(prefix.casefold()):
                yield Completion(f"{world}{slash}{name}", -len(word))

    async def _online(self, prefix: str) -> list[str]:
        key = prefix[:1].casefold()  # one lookup per first letter, for a couple of seconds
        cached = self._names.get(key)
        if cached is not None and time.monotonic() - cached[0] < NAMES_FRESH_S:
            return cached[1]
        try:
            names = await self.tool.client.api.complete_names(key, 100)
        except RpcError:
            return []
        self._names[key] = (time.monotonic(), names)
        return names


def _show(text: str, style: str = "") -> None:
    if style:
        print_formatted_text(FormattedText([(style, text)]))
    else:
        print_formatted_text(text)


async def interactive(client: GMClient, history: Path) -> int:
    """The prompt, until ``quit``, Ctrl-D, or the GM port closing the connection."""
    tool = GMTool(client)
    welcome = client.welcome
    assert welcome is not None
    worlds = ", ".join(welcome.worlds) or "every world"
    _show(f"logged in as {welcome.account_name} ({welcome.role}, {worlds});"
          " type help, Tab completes", "bold")
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)), completer=Completions(tool),
        complete_while_typing=False)
    while True:
        try:
            text = await session.prompt_async(f"gm:{welcome.account_name}> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        text = text.strip()
        if text.lower() in ("quit", "exit"):
            break
        try:
            out = await tool.run_line(text)
        except UsageError as exc:
            _show(str(exc), "ansiyellow")
        except RpcError as exc:
            _show(refusal(exc), "ansired")
        else:
            if out:
                _show(out)
        if client.gm is None or client.gm.closed.is_set():
            _show("the GM port closed the connection", "ansired")
            return EXIT_REFUSED
    _show("bye")
    return EXIT_OK


async def run_script(client: GMClient, lines: list[str]) -> int:
    """Each command line in turn; stop at the first refused, failed or wrong one."""
    tool = GMTool(client)
    for text in lines:
        try:
            out = await tool.run_line(text)
        except UsageError as exc:
            print(f"{shown(text, 80)}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except RpcError as exc:
            print(f"{shown(text, 80)}: {refusal(exc)}", file=sys.stderr)
            return EXIT_REFUSED
        if out:
            print(out)
    return EXIT_OK
