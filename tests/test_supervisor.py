"""A supervisor survives any output its child produces, notices its exit at once and restarts it
when it stops answering; one unauthenticated connection can no longer hang a cluster process."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import pytest
from conftest import Cluster

from shardkit.client.session import GameClient
from shardkit.runtime.output import LINE_SLACK_CHARS, MAX_LINE_CHARS, StdoutRelay
from shardkit.runtime.process import Child
from shardkit.up import READY_LINE

CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class Lines:
    """What a Child relayed, awaitable."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.exits: list[tuple[int, float]] = []
        self.changed = asyncio.Event()

    def on_line(self, name: str, line: str) -> None:
        self.lines.append(line)
        self.changed.set()

    def on_exit(self, child: Child, code: int) -> None:
        self.exits.append((code, time.monotonic()))
        self.changed.set()

    async def wait(self, predicate, timeout: float) -> None:
        async def until() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            tail = "\n".join(line[:200] for line in self.lines[-20:])
            raise AssertionError(
                f"not in {timeout} s; exits {self.exits}; last lines:\n{tail}"
            ) from None

    async def line(self, text: str, timeout: float = 10.0) -> str:
        """The first line containing ``text`` (looking at each line once)."""
        found: list[str] = []
        looked = 0

        def seen() -> bool:
            nonlocal looked
            found.extend(line for line in self.lines[looked:] if text in line)
            looked = len(self.lines)
            return bool(found)

        await self.wait(seen, timeout)
        return found[0]


def script(tmp_path: Path, name: str, source: str) -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return [sys.executable, str(path)]


async def test_a_line_of_any_length_and_binary_output_are_relayed_safely(tmp_path: Path) -> None:
    argv = script(tmp_path, "noisy.py", """
        import os, time
        out = os.write
        out(1, b"before\\n")
        out(1, b"A" * 1_000_000 + b"\\n")                      # one 1 MB line
        # binary, invalid UTF-8, no newline for 76 KB
        out(1, bytes(range(256)) * 300 + b"\\n")
        # terminal escapes
        out(1, b"\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x1b[31mred\\r[notice] fake\\n")
        for i in range(5):
            out(1, f"after {i}\\n".encode())
        time.sleep(60)
    """)
    seen = Lines()
    child = Child("noisy", argv, on_line=seen.on_line, restart=False, hang_timeout_s=None)
    child.start()
    try:
        await seen.line("after 4")
        assert child.running.is_set()  # still supervised, not restarted
        assert child.starts == 1
    finally:
        await child.stop()
    long = next(line for line in seen.lines if line.startswith("AAAA"))
    assert long.endswith("[... line cut: 1000000 bytes in all]")
    assert len(long) < MAX_LINE_CHARS + 100
    assert all(len(line) <= MAX_LINE_CHARS + LINE_SLACK_CHARS for line in seen.lines)
    assert not any(CONTROL.search(line) for line in seen.lines), "control characters relayed"
    escaped = next(line for line in seen.lines if "red" in line)
    assert "\\x1b[2J" in escaped and "\\x1b]52;" in escaped and "\\x0d[notice]" in escaped
    assert seen.lines[:1] == ["before"] and seen.lines[-5:] == [f"after {i}" for i in range(5)]


async def test_a_flood_is_drained_while_relaying_lags(tmp_path: Path) -> None:
    argv = script(tmp_path, "flood.py", """
        import os, time
        started = time.monotonic()
        line = b"x" * 99 + b"\\n"
        block = line * 1000                                    # 100 KB
        for _ in range(100):                                   # 10 MB in all
            os.write(1, block)
        os.write(1, f"flood done in {time.monotonic() - started:.1f} s\\n".encode())
        time.sleep(60)
    """)
    seen = Lines()
    queued: list[int] = []

    def slow_relay(name: str, line: str) -> None:
        time.sleep(0.001)  # a relay that cannot keep up: 1,000 lines/s
        queued.append(child.queued_chars)
        seen.on_line(name, line)

    limit = 64 * 1024
    child = Child("flood", argv, on_line=slow_relay, restart=False, hang_timeout_s=None,
                  relay_limit_chars=limit)
    child.start()
    try:
        done = await seen.line("flood done in", timeout=30)
    finally:
        await child.stop()
    # the child was never held up by the slow relay (100,000 lines would take 100 s) ...
    assert float(done.split()[3]) < 10, done
    # ... the gap is marked, and memory stayed bounded
    dropped = [
        line for line in seen.lines if "bytes of output dropped: relaying fell behind" in line
    ]
    assert dropped
    relayed = sum(1 for line in seen.lines if line == "x" * 99)
    assert sum(int(line.split()[0][1:]) for line in dropped) + 100 * relayed == 10_000_000
    assert max(queued) <= limit


RELAYING_MIDDLE = """
    import asyncio, os, sys, time
    from shardkit.runtime.main import run_until_signalled
    from shardkit.runtime.process import Child, relay_line

    async def main(stop):
        flood = Child("flood", [sys.executable, "-c",
                                "import os\\nfor _ in range(50): "
                                "os.write(1, (b'y' * 99 + b'\\\\n') * 1000)\\n"
                                "import time; time.sleep(60)"],
                      on_line=relay_line, restart=False, hang_timeout_s=None)
        flood.start()
        ticks = open(sys.argv[1], "w")
        while not stop.is_set():  # proves the event loop turns: one tick per 50 ms
            ticks.write(f"{time.monotonic()}\\n")
            ticks.flush()
            await asyncio.sleep(0.05)
        await flood.stop()

    sys.exit(run_until_signalled(main))
"""


def test_relaying_to_a_stdout_nobody_reads_never_stalls_the_event_loop(tmp_path: Path) -> None:
    ticks = tmp_path / "ticks"
    argv = script(tmp_path, "middle.py", RELAYING_MIDDLE)
    middle = subprocess.Popen([*argv, str(ticks)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        # nobody reads its stdout for 3 s, while its child writes 5 MB for it to relay
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and middle.poll() is None:
            time.sleep(0.1)
        stamps = [float(t) for t in ticks.read_text().split()] if ticks.exists() else []
        assert stamps, "the middle process never ran its loop"
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps, default=0) < 1.0, f"its event loop stalled for {max(gaps):.1f} s"
        assert time.monotonic() - stamps[-1] < 1.0, "its event loop stopped turning"
        middle.send_signal(signal.SIGTERM)
        out, _ = middle.communicate(timeout=30)
    finally:
        if middle.poll() is None:
            middle.kill()
            middle.wait()
    assert b"bytes of output dropped: our stdout was not read fast enough" in out


BEATING_CHILD = """
    import asyncio, os, sys, time
    from shardkit.runtime.main import run_until_signalled

    runs = open(sys.argv[1], "a+")
    runs.seek(0)
    first = not runs.read()
    runs.write("run\\n")
    runs.flush()
    if first:
        time.sleep(3)  # a slow start (imports, config) is not a hang

    async def main(stop):
        print("ready", "first" if first else "again", flush=True)
        await asyncio.sleep(0.2)
        if first:
            time.sleep(600)  # the event loop hangs
        await stop.wait()
        time.sleep(3)  # a slow stop is stop()'s business, not a hang
        print("stopped cleanly", flush=True)

    sys.exit(run_until_signalled(main))
"""


async def test_a_child_that_stops_answering_is_killed_and_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "shardkit.process")
    argv = script(tmp_path, "hangs.py", BEATING_CHILD)
    seen = Lines()
    child = Child("hangs", [*argv, str(tmp_path / "runs")], on_line=seen.on_line,
                  on_exit=seen.on_exit, hang_timeout_s=1.0)
    child.start()
    try:
        await seen.line("ready first", timeout=15)
        hung_at = time.monotonic()
        await seen.line("ready again", timeout=10)
        assert len(seen.exits) == 1
        code, noticed = seen.exits[0]
        assert code == -signal.SIGKILL
        assert noticed - hung_at < 1.0 + 2.0  # the timeout, plus a check interval and a beat
        assert "stopped answering (no heartbeat for" in child.exit_reason
        assert "stopped answering" in caplog.text and "hangs (pid" in caplog.text
        # the restarted child answers: its heartbeat keeps it alive well past the timeout
        with pytest.raises(AssertionError):
            await seen.wait(lambda: len(seen.exits) > 1, timeout=3.0)
        assert child.starts == 2
    finally:
        await child.stop(timeout=10)
    assert seen.exits[-1][0] == 0, child.exit_reason
    assert "stopped cleanly" in seen.lines


async def test_exit_is_noticed_at_once_when_a_grandchild_holds_the_pipe(tmp_path: Path) -> None:
    argv = script(tmp_path, "parent.py", """
        import subprocess, sys, time
        # inherits stdout
        holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", holder.pid, flush=True)
        time.sleep(60)
    """)
    seen = Lines()
    child = Child("parent", argv, on_line=seen.on_line, on_exit=seen.on_exit, restart=False,
                  hang_timeout_s=None)
    child.start()
    grandchild = int((await seen.line("grandchild")).split()[1])
    try:
        killed = time.monotonic()
        child.kill(signal.SIGKILL)
        await seen.wait(lambda: bool(seen.exits), timeout=5)
        assert seen.exits[0][0] == -signal.SIGKILL
        assert seen.exits[0][1] - killed < 1.0
        await asyncio.wait_for(child.stop(), 2)
    finally:
        os.kill(grandchild, signal.SIGKILL)


NESTED = """
    import asyncio, os, sys
    from shardkit.runtime.main import run_until_signalled
    from shardkit.runtime.process import Child, relay_line

    depth = int(sys.argv[1])
    fds = sorted(os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                 if os.path.exists(f"/proc/self/fd/{fd}"))
    print(f"level {depth}: stdout {os.readlink('/proc/self/fd/1')} fds", *fds, flush=True)

    async def main(stop):
        if depth:
            child = Child(f"level {depth - 1}", [sys.executable, sys.argv[0], str(depth - 1)],
                          on_line=relay_line, restart=False)
            child.start()
        await stop.wait()
        if depth:
            await child.stop()

    sys.exit(run_until_signalled(main))
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_a_childs_children_do_not_hold_its_supervisors_pipes(tmp_path: Path) -> None:
    """Three generations (daemon, WorldServer, zone): none holds an elder's output pipe, so a
    process's exit is never hidden by what its children hold open."""
    seen = Lines()
    top = Child("level 2", [*script(tmp_path, "nested.py", NESTED), "2"], on_line=seen.on_line,
                restart=False)
    top.start()
    try:
        levels = {}
        for depth in (2, 1, 0):
            line = await seen.line(f"level {depth}: stdout", timeout=20)
            stdout, fds = line.split(f"level {depth}: stdout ")[1].split(" fds ")
            levels[depth] = (stdout, fds.split())  # its stdout, every fd it holds
    finally:
        await top.stop()
    for depth, (_, fds) in levels.items():
        elders = {levels[up][0] for up in levels if up > depth}
        assert not elders & set(fds), f"level {depth} holds an elder's pipe: {fds}"
    for depth, (_, fds) in levels.items():
        # stdin, stdout, stderr, the heartbeat pipe, and the listing's own fd (gone, or not)
        assert len(fds) <= 5, f"level {depth} inherited more than it needs: {fds}"


def test_stdout_relay_drops_and_counts_what_does_not_fit(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    relay = StdoutRelay(write_end, limit_bytes=10_000)
    try:
        started = time.monotonic()
        for i in range(20_000):  # 2 MB into a pipe nobody reads yet: never blocks the caller
            relay.write_line(f"{i:099d}")
        assert time.monotonic() - started < 5
        relay.write_line("last", essential=True)
        chunks = []
        with os.fdopen(read_end, "rb") as reader:
            while not relay.flush(0.05):
                chunks.append(os.read(reader.fileno(), 1 << 20))
            os.set_blocking(reader.fileno(), False)
            try:
                while chunk := os.read(reader.fileno(), 1 << 20):
                    chunks.append(chunk)
            except BlockingIOError:
                pass
    finally:
        os.close(write_end)
    lines = b"".join(chunks).decode().splitlines()
    assert lines[-1] == "last"
    notes = [line for line in lines if line.startswith("[")]
    assert notes and all(
        note.endswith(" bytes of output dropped: our stdout was not read fast enough]")
        for note in notes)
    kept = [line for line in lines if len(line) == 99]
    assert len(kept) + len(notes) + 1 == len(lines)
    assert sum(int(note.split()[0][1:]) for note in notes) == 100 * (20_000 - len(kept))
    assert kept == sorted(kept) and len(kept) < 20_000


# ------------------------------------------------------------ the cluster, end to end
def error_notification(text: str) -> bytes:
    return msgpack.packb([2, "error", [text]])


async def send_unauthenticated(port: int, payload: bytes, then_ask: bool) -> None:
    """``payload`` on a fresh connection, then (if asked) one request to see it was read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        if then_ask:
            writer.write(msgpack.packb([0, 1, "no_such_method", []]))
        await writer.drain()
        if then_ask:
            await reader.read(65536)  # an answer or a close: either way it has read the payload
    except ConnectionError:
        pass  # a server may close a connection that sends this much garbage
    finally:
        writer.close()


async def test_one_unauthenticated_connection_cannot_hang_the_master(cluster: Cluster) -> None:
    port = cluster.master_port
    log_file = cluster.settings.data_dir / "logs" / "master.log"
    # defect 1 as found: eight 70,000-character error notifications, then about 1 MB more
    # of traffic that the master logs (which used to block it writing to its stdout)
    attacks = [error_notification("A" * 70_000) * 8] + [error_notification("B" * 70_000) * 2] * 8
    for number, attack in enumerate(attacks):
        try:
            await asyncio.wait_for(send_unauthenticated(port, attack, then_ask=True), 10)
        except TimeoutError:
            raise AssertionError(f"the master stopped answering after attack {number}") from None

    # the master still answers a real login promptly ...
    client = GameClient("127.0.0.1", port)
    try:
        await asyncio.wait_for(client.register("afterflood", "after the flood"), 10)
        await asyncio.wait_for(client.login("afterflood", "after the flood"), 10)
    finally:
        await client.close()
    # ... and `shardkit up` still relays (and logs) what the master says afterwards
    deadline = time.monotonic() + 10
    while "registered account 'afterflood'" not in log_file.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the master's later lines never reached shardkit up"
        await asyncio.sleep(0.1)
    assert not any("master | " in line and "exited" in line for line in cluster.up.lines)


def test_the_up_summary_shows_the_ports_in_use_and_says_up_once(cluster: Cluster) -> None:
    lines = cluster.up.lines
    end = cluster.up.wait_for_line(READY_LINE)
    assert sum(READY_LINE in line for line in lines) == 1
    start = max(index for index in range(end)
                if "players connect to the master at" in lines[index])  # its first line
    summary = "\n".join(lines[start:end])
    status = cluster.announced_port("master status page (http)")  # configured as 0
    assert f"status page: http://127.0.0.1:{status}/" in summary, summary
    ssh = cluster.announced_port("world Atlantis/0 console (ssh)")  # configured as 0
    assert f"ssh -p {ssh} " in summary, summary
    assert f"at 127.0.0.1:{cluster.master_port}" in summary
    assert not re.search(r":0\b|-p 0\b", summary), summary


def test_help_is_plain_text() -> None:
    for args in ([], ["db"]):
        shown = subprocess.run([sys.executable, "-m", "shardkit", *args, "--help"],
                               capture_output=True, text=True, check=True, timeout=30).stdout
        assert "``" not in shown and ":class:" not in shown, shown
        assert "commands:" in shown
        assert all(len(line) <= 100 for line in shown.splitlines()), shown
