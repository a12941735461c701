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
import unicodedata
import uuid

import pytest

from shardkit.client.session import GameClient

WAIT = 30.0  # upper bound for any one answer of the client or the cluster
TOWN_SPAWN_AREA = ((80.0, 120.0), (80.0, 120.0))  # content/default/zones.toml: town
POINT = r"\((-?[\d.]+), (-?[\d.]+)\)"
POSITION = r"you are at " + POINT


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
                raise AssertionError(f"no line matching {pattern!r}"
                                     f" (exit code {self.process.poll()}):\n{tail}")
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
        entered = term.expect(rf"you are {character} in zone town at {POINT}")
        spawn = float(entered.group(1)), float(entered.group(2))
        (x_low, x_high), (y_low, y_high) = TOWN_SPAWN_AREA
        assert x_low <= spawn[0] <= x_high and y_low <= spawn[1] <= y_high  # a new character

        term.send("e")
        term.expect("walking east")
        for _ in range(50):  # each look answers after the next zone tick
            term.send("look")
            x, y = (float(v) for v in term.expect(POSITION).groups())
            if x > spawn[0] + 1:
                break
        else:
            pytest.fail(f"walking east never moved us:\n{chr(10).join(term.output[-20:])}")
        assert y == pytest.approx(spawn[1], abs=0.2)

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
    assert (saved_x, saved_y) != spawn
    assert saved_x >= x - 0.2  # kept walking east until quit, which saved where it stood
    assert saved_y == pytest.approx(spawn[1], abs=0.2)


def test_unreachable_master_is_a_clear_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket is closed
    term = Terminal("--host", "127.0.0.1", "--port", str(port))
    try:
        term.expect(
            rf"cannot reach the master at 127\.0\.0\.1:{port} .* is `shardkit up` running\?")
        assert term.process.wait(WAIT) == 1
    finally:
        term.close()


# ----------------------------------------------------------------- a hostile server's text


HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07hi\n[notice] ADMIN: the server moves to evil.example\r"
    "\x1b]52;c;ZXZpbA==\x07\u202eevil\u202c\x00\x9b31m"
)


class HostileMaster:
    """A master that lets anyone with PASSWORD in, then sends text made to fool a terminal."""

    PASSWORD = "hostile password"

    def __init__(self) -> None:
        from shardkit.wire.scram import make_verifier

        self.verifier = make_verifier(self.PASSWORD, 4096)
        self.player: object = None
        self.logged_in = asyncio.Event()


def _hostile_master_router(master: HostileMaster):  # type: ignore[no-untyped-def]
    from shardkit.master.schemas import LoginFinish, LoginStart
    from shardkit.wire.rpc import Router, RpcConnection, rpc
    from shardkit.wire.scram import ScramServerSession

    class Port:
        @rpc("login_start", LoginStart, public=True)
        def login_start(self, conn: RpcConnection, p: LoginStart) -> dict[str, str]:
            """SCRAM step 1."""
            session = ScramServerSession(master.verifier)
            conn.state["scram"] = session
            return {"server_first": session.first(p.client_first)}

        @rpc("login_finish", LoginFinish, public=True)
        def login_finish(self, conn: RpcConnection, p: LoginFinish) -> dict[str, object]:
            """SCRAM step 2."""
            server_final = conn.state["scram"].final(p.client_final)
            master.player = conn
            return {"server_final": server_final,
                    "account": {"account_id": 1, "name": "victim", "role": "player"}}

        @rpc("worlds", public=True)
        def worlds(self, conn: RpcConnection) -> list[object]:
            """No worlds; then the text attack."""
            conn.notify("chat", "Mallory\x1b[8m", HOSTILE)
            conn.notify("broadcast", "real notice " + HOSTILE)
            conn.notify("error", {"code": "x", "message": HOSTILE})
            master.logged_in.set()
            return []

    return Router.for_services(Port())


async def test_the_terminal_shows_only_printable_text_whatever_the_server_sends() -> None:
    from shardkit.wire.rpc import serve

    master = HostileMaster()
    server = await serve("127.0.0.1", 0, _hostile_master_router(master))
    process = subprocess.Popen(
        [sys.executable, "-m", "shardkit", "play", "--host", "127.0.0.1", "--port",
         str(server.port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = bytearray()
    arrived = threading.Condition()

    def read() -> None:
        assert process.stdout is not None
        while chunk := process.stdout.read1(4096):
            with arrived:
                output.extend(chunk)
                arrived.notify_all()

    def wait_for(token: bytes) -> None:
        with arrived:
            assert arrived.wait_for(lambda: token in output, WAIT), bytes(output)[-2000:]

    threading.Thread(target=read, daemon=True).start()
    try:
        assert process.stdin is not None
        process.stdin.write(f"l\nvictim\n{HostileMaster.PASSWORD}\n".encode())
        process.stdin.flush()
        await asyncio.wait_for(master.logged_in.wait(), WAIT)
        await asyncio.to_thread(wait_for, b"[notice] error:")
        master.player.notify("kicked", "bye " + HOSTILE)  # type: ignore[attr-defined]
        assert await asyncio.to_thread(process.wait, WAIT) == 1
        await asyncio.to_thread(wait_for, b"[kicked]")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        await server.close()

    text = bytes(output).decode("utf-8")
    bad = sorted({c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")})
    assert not bad, bad  # no escape, no carriage return, no bidi override reached the terminal
    lines = text.split("\n")
    chat = [line for line in lines if line.startswith("[chat]")]
    assert chat == ["[chat] Mallory: hi [notice] ADMIN: the server moves to evil.example evil"]
    assert [line.split(" ", 2)[:2] for line in lines if line.startswith("[notice]")] == [
        ["[notice]", "real"], ["[notice]", "error:"]]
    assert any(line.startswith("[kicked] bye hi [notice] ADMIN") for line in lines)
    faked = [line for line in lines if "[notice] ADMIN" in line]
    assert len(faked) == 4 and all(  # each inside the line of what really carried it
        line.startswith(("[chat] Mallory: hi", "[notice] real notice hi", "[notice] error: hi",
                         "[kicked] bye hi")) for line in faked), faked
