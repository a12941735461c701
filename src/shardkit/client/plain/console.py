"""Lines in and out for the plain client: printable output, stdin read in a thread, errors."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import queue
import sys
import threading
from collections.abc import Iterator

from shardkit.wire.rpc import RpcError
from shardkit.wire.text import clean_text

__all__ = ["Attempt", "Console", "Quit"]

MAX_LINE = 4096  # characters of one output line; a longer one (server text) is cut
SYSTEM_STYLE = ("\x1b[1m", "\x1b[0m")  # bold, on a terminal: what the servers say, not players


class Quit(Exception):
    """The user is done (quit, or end of input); ``code`` is the exit status."""

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)
        self.code = code


class Attempt:
    """Whether the calls inside :meth:`Console.shown_errors` all succeeded."""

    ok = True


class Console:
    """Prints lines and reads stdin one line per request in a daemon thread, so the event loop
    never blocks.

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
                if getpass_prompt is None:
                    line = self._read_line()
                else:
                    line = getpass.getpass(getpass_prompt)
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
