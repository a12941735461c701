"""The terminal client (``shardkit play``) driven through pipes against a real cluster."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from shardkit.client.session import GameClient

WAIT = 30.0  # upper bound for any one answer of the client or the cluster
SPAWN = (100.0, 100.0)
POSITION = r"you are at \((-?[\d.]+), (-?[\d.]+)\)"


class Terminal:
    """``shardkit play`` as a child process: send it lines, read its output lines with a timeout."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shardkit", "play", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """Read output lines until one matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                tail = "\n".join(self.output[-40:])
                raise AssertionError(f"no line matching {pattern!r} (exit code {self.process.poll()}):\n{tail}")
            self.output.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)


def _unique() -> str:
    return "".join(chr(ord("a") + int(digit, 16)) for digit in uuid.uuid4().hex[:10])


@pytest.mark.cluster
def test_register_play_walk_chat_and_quit_saves(cluster) -> None:
    account, password, character = f"tc_{_unique()}", "walking stick", f"Tc{_unique()}"
    term = Terminal("--host", "127.0.0.1", "--port", str(cluster.master_port))
    try:
        term.expect(r"\[l\]ogin / \[r\]egister / \[q\]uit")
        for line in ("r", account, password):
            term.send(line)
        term.expect(f"account {account} created")

        for line in ("l", account, "not the password"):  # an error is one line; the menu stays
            term.send(line)
        term.expect(r"^\[error\] auth_failed: ")
        term.expect(r"\[l\]ogin / \[r\]egister / \[q\]uit")
        for line in ("l", account, password):
            term.send(line)
        term.expect(f"logged in as {account}")

        term.expect(r"1\. Atlantis\s+up")
        term.send("1")
        term.expect("entered Atlantis")
        term.send(f"create {character}")
        term.expect(f"created {character}")
        term.send("play Nobody")
        term.expect(r"^\[error\] no_such_character: ")
        term.send(f"play {character}")
        term.expect(rf"you are {character} in zone town at \(100\.0, 100\.0\)")

        term.send("e")
        term.expect("walking east")
        for _ in range(50):  # each look answers after the next zone tick
            term.send("look")
            x, y = (float(v) for v in term.expect(POSITION).groups())
            if x > SPAWN[0] + 1:
                break
        else:
            pytest.fail(f"walking east never moved us:\n{chr(10).join(term.output[-20:])}")
        assert y == pytest.approx(SPAWN[1])

        term.send("say hello")
        term.expect(rf"^\[chat\] {character}: hello$")
        term.send("quit")
        term.expect(f"logged out; {character} is saved")
        assert term.process.wait(WAIT) == 0
    finally:
        term.close()

    async def saved_position() -> tuple[float, float]:
        client = GameClient("127.0.0.1", cluster.master_port)
        try:
            await client.login(account, password)
            await client.enter_world("Atlantis")
            assert [c.name for c in await client.characters()] == [character]
            entered = await client.enter_game(character)
            return entered.x, entered.y
        finally:
            await client.close()

    saved_x, saved_y = asyncio.run(asyncio.wait_for(saved_position(), WAIT))
    assert (saved_x, saved_y) != SPAWN
    assert saved_x >= x  # kept walking east until quit, which saved where it stood
    assert saved_y == pytest.approx(SPAWN[1])


def test_unreachable_master_is_a_clear_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket is closed
    term = Terminal("--host", "127.0.0.1", "--port", str(port))
    try:
        term.expect(rf"cannot reach the master at 127\.0\.0\.1:{port} .* is `shardkit up` running\?")
        assert term.process.wait(WAIT) == 1
    finally:
        term.close()
