"""The wire's bounds hold against hostile peers, over real sockets on 127.0.0.1.

- a message is bounded in bytes while it arrives and decoded only when whole (empty-array
  floods and never-filled array headers cost the server nothing);
- a connection's work in flight (requests and notifications) is bounded by reading less, with
  a smaller bound before authentication, and one flooding connection does not starve others;
- what a peer says in an ``error`` notification reaches the log quoted, cut short, rate-limited
  and, from a player, below WARNING;
- a ``bytes`` param refuses a str;
- a listening port queues a crowd of simultaneous connects.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from wire_support import Probe, serve_probe

from shardkit.wire import rpc
from shardkit.wire.rpc import RpcError, connect

SUPPORT = Path(__file__).with_name("wire_support.py")
PROMPT_S = 2.0  # a generous bound for "still answers promptly" on a busy machine


def request(msgid: int, method: str, *params: object) -> bytes:
    return msgpack.packb([0, msgid, method, list(params)])


def notification(method: str, *params: object) -> bytes:
    return msgpack.packb([2, method, list(params)])


async def read_messages(reader: asyncio.StreamReader, count: int, timeout: float = 10.0) -> list:
    """The next ``count`` messages from a raw connection (fails on timeout or early close)."""
    unpacker = msgpack.Unpacker(raw=False)
    messages: list = []
    async with asyncio.timeout(timeout):
        while len(messages) < count:
            data = await reader.read(65536)
            assert data, f"closed after {len(messages)} of {count} messages: {messages[-3:]}"
            unpacker.feed(data)
            messages.extend(unpacker)
    return messages


async def answer_or_close(reader: asyncio.StreamReader, timeout: float) -> tuple[list, bool]:
    """What arrives until a response, the end of the connection or ``timeout``; and whether
    the connection ended."""
    unpacker = msgpack.Unpacker(raw=False)
    messages: list = []
    try:
        async with asyncio.timeout(timeout):
            while not any(m[0] == 1 for m in messages):
                data = await reader.read(65536)
                if not data:
                    return messages, True
                unpacker.feed(data)
                messages.extend(unpacker)
    except ConnectionResetError:
        return messages, True
    except TimeoutError:
        pass
    return messages, False


def work_in_flight() -> int:
    """The server's requests and notifications being handled now (tasks of this loop)."""
    names = ("IncomingMessages._finish_request", "Probe.hold")  # a request's, a notification's
    return sum(task.get_coro().__qualname__ in names for task in asyncio.all_tasks())


async def ping_promptly(port: int) -> float:
    """Seconds a fresh connection's ``ping`` takes (fails if it takes longer than PROMPT_S)."""
    started = time.monotonic()
    conn = await connect("127.0.0.1", port)
    try:
        assert await asyncio.wait_for(conn.call("ping"), PROMPT_S) == "pong"
    finally:
        conn.close()
    return time.monotonic() - started


@pytest.fixture
async def probe_server():
    probe = Probe()
    server = await serve_probe(probe)
    yield server, probe
    probe.release.set()
    await server.close()


# ------------------------------------------------------------------ message size (defect 2)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def server_process():
    """The probe service as its own process, so that its memory can be measured."""
    proc = subprocess.Popen([sys.executable, str(SUPPORT)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc, port
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def empty_arrays(total_bytes: int) -> bytes:
    """One request whose params are arrays of empty arrays: a byte each, millions of values."""
    inner = 65_535
    groups = total_bytes // (inner + 3)
    group = b"\xdc" + struct.pack(">H", inner) + b"\x90" * inner
    return b"\x94\x00\x01\xa4ping\xdd" + struct.pack(">I", groups) + group * groups


def unfilled_headers(depth: int) -> bytes:
    """Nested array headers that each claim 2**18 elements and never get them."""
    return b"\x94\x00\x01\xa4ping" + (b"\xdd" + struct.pack(">I", 2**18)) * depth


@pytest.mark.parametrize("payload", [empty_arrays(8 * 1024 * 1024), unfilled_headers(1000)],
                         ids=["8MB-of-empty-arrays", "unfilled-array-headers"])
async def test_a_message_is_bounded_while_it_arrives(server_process, payload: bytes) -> None:
    proc, port = server_process
    assert await ping_promptly(port) < PROMPT_S
    before = peak_rss_mb(proc.pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    try:
        await asyncio.wait_for(writer.drain(), 60)
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed on us while we were still sending: what we want
    assert await ping_promptly(port) < PROMPT_S  # the server is not stuck decoding
    messages, closed = await answer_or_close(reader, timeout=20)
    writer.close()
    growth = peak_rss_mb(proc.pid) - before
    assert growth < 16, f"the server's peak memory grew by {growth:.0f} MB"
    assert closed, f"the connection is still open: {messages}"
    errors = [m[2][0]["code"] for m in messages if m[0] == 2 and m[1] == "error"]
    assert errors in ([], ["too_large"]), errors  # (no notification if it reset us mid-send)


async def test_a_player_gets_a_few_kib_and_an_anonymous_peer_less(probe_server) -> None:
    server, _ = probe_server
    anonymous = await connect("127.0.0.1", server.port)
    with pytest.raises(RpcError):  # 6 KiB before authentication: too large, closed
        await anonymous.call("ping", "x" * 6000)
    await asyncio.wait_for(anonymous.wait_closed(), 5)

    player = await connect("127.0.0.1", server.port)
    try:
        assert await player.call("login", "p1") is True
        with pytest.raises(RpcError) as refused:  # 6 KiB fits a player's bound: a normal answer
            await player.call("ping", "x" * 6000)
        assert refused.value.code == "bad_params"
        with pytest.raises(RpcError):  # 20 KiB does not
            await player.call("ping", "x" * 20_000)
        await asyncio.wait_for(player.wait_closed(), 5)
    finally:
        player.close()


def test_a_large_message_in_small_pieces_is_walked_once() -> None:
    """Not quadratic: a 256 KiB message fed 16 bytes at a time is not re-parsed per piece."""
    from shardkit.wire.framing import RESUMABLE, MessageStream

    assert RESUMABLE, "msgpack's C extension is needed (its pure-Python unpacker re-parses)"
    message = msgpack.packb([0, 1, "ping", [[i, "x" * 8] for i in range(19_000)]])
    assert 200_000 < len(message) < 256 * 1024
    stream = MessageStream(capacity=512 * 1024)
    started = time.process_time()
    for offset in range(0, len(message), 16):
        stream.feed(message[offset:offset + 16], 256 * 1024)
    elapsed = time.process_time() - started
    assert [m[2] for m in stream] == ["ping"]
    assert elapsed < 2.0, f"{len(message) // 16} pieces took {elapsed:.1f} s of CPU"


def test_a_stream_cut_anywhere_gives_the_same_messages() -> None:
    import random

    from shardkit.wire.framing import MessageStream

    rng = random.Random(7)
    messages = [[0, n, "m" * rng.randrange(0, 40), [b"x" * rng.randrange(0, 300), {"k": [n] * 3}]]
                for n in range(300)]
    data = b"".join(msgpack.packb(m) for m in messages)
    for _ in range(20):
        stream, got, offset = MessageStream(capacity=8192), [], 0
        while offset < len(data):
            step = rng.choice((1, 2, 7, 64, 500, 4000))
            stream.feed(data[offset:offset + step], 4096)
            got.extend(stream)
            offset += step
        assert got == messages and stream.pending_bytes == 0


def test_streams_fed_in_turns_each_get_their_own_messages() -> None:
    """Streams share a framer between objects and keep one only while an object is partial:
    many streams (decoding, or splitting into frames) cut anywhere and fed in turns still each
    get exactly their own messages."""
    import random

    from shardkit.wire.framing import FrameSplitter, MessageStream

    rng = random.Random(11)
    streams: list[tuple[MessageStream | FrameSplitter, list[Any], bytes, list[Any]]] = []
    for index in range(8):
        messages = [[2, f"s{index}", [n, "v" * rng.randrange(0, 600)]] for n in range(200)]
        data = b"".join(msgpack.packb(m) for m in messages)
        kind = MessageStream if index < 6 else FrameSplitter
        streams.append((kind(capacity=8192 if index % 2 else 16384), messages, data, []))
    offsets = [0] * len(streams)
    while any(offset < len(s[2]) for offset, s in zip(offsets, streams, strict=True)):
        index = rng.randrange(len(streams))
        stream, _, data, got = streams[index]
        step = rng.choice((1, 3, 50, 700, 5000))
        piece = data[offsets[index]:offsets[index] + step]
        if isinstance(stream, FrameSplitter):
            got.extend(msgpack.unpackb(frame) for frame in stream.feed(piece, 4096))
        else:
            stream.feed(piece, 4096)
            got.extend(stream)
        offsets[index] += step
    for stream, messages, _, got in streams:
        assert got == messages and stream.pending_bytes == 0


def test_a_message_that_does_not_decode_spoils_only_its_own_stream() -> None:
    from shardkit.wire.framing import MessageStream

    bad_utf8 = b"\x93\x02\xa4ping\x91\xa2\xff\xfe"  # [2, "ping", [<invalid UTF-8>]]
    good = msgpack.packb([2, "ping", []])
    for data in (bad_utf8, good + bad_utf8 + good):
        stream = MessageStream(capacity=8192)
        stream.feed(data, 4096)
        taken = []
        with pytest.raises(ValueError):
            taken.extend(stream)
        assert taken == ([] if data == bad_utf8 else [[2, "ping", []]])
        other = MessageStream(capacity=8192)  # the thread's shared unpackers are still sound
        other.feed(good * 3, 4096)
        assert list(other) == [[2, "ping", []]] * 3


def test_an_idle_connection_holds_no_unpacker() -> None:
    """Most of a connection's memory was its two msgpack unpackers (about 41 KB each, for
    their parse stacks): between objects a stream holds none."""
    import tracemalloc

    from shardkit.wire.framing import MessageStream

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        streams = [MessageStream(capacity=320 * 1024) for _ in range(200)]
        for stream in streams:
            stream.feed(msgpack.packb([0, 1, "ping", []]), 4096)
            assert len(list(stream)) == 1
        per_stream = (tracemalloc.get_traced_memory()[0] - before) / len(streams)
    finally:
        tracemalloc.stop()
    assert per_stream < 2048, f"{per_stream:.0f} bytes per idle stream"


# ------------------------------------------------------------ work in flight (defect 3)


async def test_pipelined_requests_wait_in_the_socket_not_in_the_server(probe_server) -> None:
    server, probe = probe_server
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request(1, "login", "p1"))
    assert (await read_messages(reader, 1))[0][3] is True
    pipelined = 5000
    writer.write(b"".join(request(msgid, "hold") for msgid in range(2, pipelined + 2)))
    await asyncio.wait_for(probe.holding.wait(), 10)
    for _ in range(3):  # the loop has gone round many times: everything readable was read
        assert await ping_promptly(server.port) < PROMPT_S
    accepted = work_in_flight()
    assert probe.held == 32, probe.held
    assert accepted == 32, f"{accepted} requests taken in while 32 may be in flight"

    probe.release.set()  # every request is answered in turn, none refused
    answers = await read_messages(reader, pipelined, timeout=60)
    assert sorted(m[1] for m in answers) == list(range(2, pipelined + 2))
    assert {(m[2] is None, m[3]) for m in answers} == {(True, "released")}
    assert probe.most_held == 32
    writer.close()


async def test_notifications_count_as_work_in_flight_tighter_before_login(probe_server) -> None:
    server, probe = probe_server
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(notification("hold") * 20_000)  # nobody has logged in on this connection
    await asyncio.wait_for(probe.holding.wait(), 10)
    for _ in range(3):
        assert await ping_promptly(server.port) < PROMPT_S
    assert probe.held == work_in_flight() == 4, (
        f"{probe.held} notifications in flight before authentication"
    )
    writer.close()


async def test_a_flood_of_notifications_does_not_hold_the_loop(probe_server) -> None:
    """Synchronous handlers too: a connection handles a bounded number of messages per turn."""
    server, probe = probe_server
    loop = asyncio.get_running_loop()
    most_per_turn = 0
    last = 0
    ticking = True

    def tick() -> None:  # runs once per turn of the event loop
        nonlocal most_per_turn, last
        most_per_turn = max(most_per_turn, probe.counted - last)
        last = probe.counted
        if ticking:
            loop.call_soon(tick)

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    flood = 200_000
    loop.call_soon(tick)
    try:
        writer.write(notification("count") * flood + request(1, "ping"))
        latencies = []
        for _ in range(10_000):
            if probe.counted >= flood:
                break
            latencies.append(await ping_promptly(server.port))
        assert (await read_messages(reader, 1))[0][3] == "pong"
    finally:
        ticking = False
        writer.close()
    assert max(latencies) < PROMPT_S
    per_turn = rpc.ANONYMOUS_LIMITS.messages_per_turn  # nobody logged in on this connection
    assert per_turn < rpc.PLAYER_LIMITS.messages_per_turn
    assert most_per_turn <= 2 * per_turn, f"{most_per_turn} notifications handled in one turn"


# --------------------------------------------------------------- peer text in logs (defect 4)


@pytest.fixture
def fresh_peer_log(monkeypatch):
    """A new rate limiter for the wire's peer lines, so earlier tests' lines do not count."""
    from shardkit.wire import incoming

    monkeypatch.setattr(incoming, "peer_log", type(incoming.peer_log)(incoming.log))


async def test_error_notifications_are_quoted_bounded_and_rate_limited(
    probe_server, fresh_peer_log, caplog
) -> None:
    server, _ = probe_server
    caplog.set_level(logging.DEBUG, logger="shardkit.wire")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    text = "line one\nline two \x1b[2J\x1b]52;c;c2VjcmV0\x07 " + "A" * 3000
    writer.write(notification("error", {"code": "oops", "message": text}) * 10_000)
    writer.write(request(1, "ping"))
    assert (await read_messages(reader, 1))[0][3] == "pong"  # all 10,000 were read before it
    writer.close()
    lines = [r for r in caplog.records if r.name == "shardkit.wire" and "error" in r.getMessage()]
    assert 1 <= len(lines) <= 6, f"{len(lines)} log lines for 10,000 error notifications"
    for record in lines:
        shown = record.getMessage()
        assert record.levelno < logging.WARNING, "a player's error report is no warning"
        assert len(shown) < 400 and "\n" not in shown and "\x1b" not in shown, shown[:200]


async def test_a_service_error_report_is_a_warning_within_the_same_budget(
    fresh_peer_log, caplog
) -> None:
    from wire_support import Probe

    from shardkit.wire.handshake import ServiceAuth, authenticate_service
    from shardkit.wire.rpc import Router, serve

    secret = os.urandom(32)
    router = Router.for_services(Probe(), ServiceAuth({"zone": secret}, "w"))
    server = await serve("127.0.0.1", 0, router)
    caplog.set_level(logging.DEBUG, logger="shardkit.wire")
    conn = await connect("127.0.0.1", server.port)
    try:
        await authenticate_service(conn, role="zone", name="z", secret=secret, peer_role="world")
        for n in range(1000):
            conn.notify("error", {"code": "x", "message": f"report {n}\n"})
        assert await conn.call("ping") == "pong"
    finally:
        conn.close()
        await server.close()
    lines = [r for r in caplog.records if "reports an error" in r.getMessage()]
    assert 1 <= len(lines) <= 6 and {r.levelno for r in lines} == {logging.WARNING}


FORGED = "\r[notice] ADMIN: restart now\x1b[2J\x00\n[notice] ADMIN: second line"


def forged_lines(text: str) -> list[str]:
    """Lines of a log that a peer forged or control characters that reached it."""
    return [line for line in text.splitlines()
            if line.lstrip("\r").startswith("[notice]") or any(c in line for c in "\r\x1b\x00")]


async def test_a_notification_refused_synchronously_is_answered_not_logged(caplog) -> None:
    """A sync handler's RpcError (a service_hello with an unknown role, entering an unknown
    world) gets an ``error`` notification back, as from an async handler: no traceback, and
    the peer's text never reaches the log raw."""
    from shardkit.wire.handshake import ServiceAuth
    from shardkit.wire.rpc import Router, serve

    server = await serve("127.0.0.1", 0, Router.for_services(
        Probe(), ServiceAuth({"zone": os.urandom(32)}, "w")), require_auth=False)
    caplog.set_level(logging.DEBUG)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(notification("enter", FORGED) * 5 + request(1, "ping"))
        got = await read_messages(reader, 6)
        assert got[-1][:4] == [1, 1, None, "pong"]
        assert [m[2][0]["code"] for m in got[:-1] if m[:2] == [2, "error"]] == ["no_such_world"] * 5
        writer.write(notification("service_hello", FORGED, "x", b"0" * 16) * 5)
        got, closed = await answer_or_close(reader, timeout=5)
        writer.close()
        assert closed, "an unknown role's connection is closed"
        codes = [m[2][0]["code"] for m in got if m[:2] == [2, "error"]]
        assert codes and set(codes) == {"auth_failed"}, got
        assert "ADMIN" in got[0][2][0]["message"]  # the peer is told, its own text quoted
    finally:
        await server.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "Traceback" not in caplog.text
    assert not forged_lines(caplog.text), forged_lines(caplog.text)


async def test_a_failing_handler_logs_its_traceback_with_the_peer_text_quoted(
    probe_server, fresh_peer_log, caplog
) -> None:
    server, _ = probe_server
    caplog.set_level(logging.DEBUG)
    conn = await connect("127.0.0.1", server.port)
    try:
        with pytest.raises(RpcError) as failed:
            await conn.call("crash", FORGED)
        assert failed.value.code == "internal"
        conn.notify("crash", FORGED)
        assert await conn.call("ping") == "pong"
    finally:
        conn.close()
    assert not forged_lines(caplog.text), forged_lines(caplog.text)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors  # the request's and the notification's
    assert all("Traceback" in r.getMessage() and "ValueError('nothing called" in r.getMessage()
               for r in errors)


# ------------------------------------------------------------ a peer that reset the connection


def event_loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


@pytest.mark.parametrize("loop_kind", event_loops())
def test_writing_to_a_peer_that_reset_the_connection_closes_it_quietly(loop_kind: str) -> None:
    """The transport closes on the reset before the read loop notices; what is written
    meanwhile (a handler's notification, a response, a call) must not raise into the writer."""
    from shardkit.wire.rpc import ConnectionClosed, RpcConnection

    async def scenario() -> None:
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future())

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result((reader, writer))

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        peer = socket.create_connection(("127.0.0.1", server.sockets[0].getsockname()[1]))
        try:
            conn = RpcConnection(*await asyncio.wait_for(accepted, 5))  # no read loop running
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()  # a reset
            async with asyncio.timeout(5):
                while not conn.writer.transport.is_closing():
                    conn.notify("tick")  # until the reset is seen: must never raise
                    await asyncio.sleep(0.01)
            conn.notify("tick")
            conn.send_encoded(b"\x90")
            assert conn.closed.is_set() and conn.close_reason.startswith("connection lost")
            with pytest.raises(ConnectionClosed):
                await conn.call("ping")
        finally:
            peer.close()
            server.close()

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(scenario())
    else:
        asyncio.run(scenario())


# ------------------------------------------------------------ bytes params (defect 10)


async def test_a_bytes_param_refuses_a_string(probe_server) -> None:
    server, _ = probe_server
    conn = await connect("127.0.0.1", server.port)
    try:
        salt = os.urandom(16)
        assert await conn.call("salted", "ana", salt) == 16
        for text in (base64.b64encode(salt).decode(), salt.hex()):
            with pytest.raises(RpcError) as refused:
                await conn.call("salted", "ana", text)
            assert refused.value.code == "bad_params"
            assert "`salt`" in refused.value.message and "str" in refused.value.message
    finally:
        conn.close()


# ------------------------------------------------------------------ listen backlog (defect 14)


def connected_count(socks: list[socket.socket], wanted: int, timeout: float) -> int:
    """How many of ``socks`` finished connecting, waiting (blocking) up to ``timeout`` for
    ``wanted`` of them. Blocking on purpose: the server's event loop, which is ours, does not
    run meanwhile, so it accepts nothing and only the kernel's listen queue holds them."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLOUT)
    deadline = time.monotonic() + timeout
    connected = 0
    while connected < wanted and time.monotonic() < deadline:
        for fd, events in poller.poll(50):
            poller.unregister(fd)
            if events & select.POLLOUT and not events & (select.POLLERR | select.POLLHUP):
                connected += 1
    return connected


async def test_a_crowd_of_simultaneous_connects_is_queued_not_refused(probe_server) -> None:
    server, _ = probe_server
    with open("/proc/sys/net/core/somaxconn") as cap_file:
        crowd = min(2000, int(cap_file.read()))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * crowd + 256
    if soft < needed and (hard == resource.RLIM_INFINITY or needed <= hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    crowd = min(crowd, (soft - 256) // 2)  # our ends, and the server's once it accepts them
    if crowd < 500:
        pytest.skip(f"a crowd of {crowd} connects would not show a backlog of 100 overflowing")
    socks = []
    try:
        for _ in range(crowd):  # all at once, while the server is busy (not accepting)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            socks.append(sock)
        queued = connected_count(socks, crowd, timeout=5.0)
        assert queued >= crowd, f"only {queued} of {crowd} simultaneous connects were queued"
        assert await ping_promptly(server.port) < 10  # and it works through them all
    finally:
        for sock in socks:
            sock.close()


# ------------------------------------------------------------ the peer-log helper itself


def test_quote_bounds_and_escapes_peer_text() -> None:
    from shardkit.runtime.peerlog import quote

    assert quote("ana") == "'ana'"
    shown = quote("a\nb\x1b[2J" + "x" * 500, 20)
    assert "\n" not in shown and "\x1b" not in shown and shown.endswith("...(+487)")
    assert len(quote([[["x" * 10_000] * 1000] * 1000], 80)) <= 80
    assert "\n" not in quote(ValueError("line\nbreak"))


def test_peer_log_rate_limits_per_peer_and_key_and_sums_up(caplog) -> None:
    from shardkit.runtime.peerlog import PeerLog

    now = [0.0]
    logger = logging.getLogger("shardkit.test.peerlog")
    peer_log = PeerLog(logger, burst=3, window_s=60, max_lines=5, max_keys=4, clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger=logger.name)

    def shown() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    logged = [peer_log.warning("1.2.3.4", "error", "line %d", n) for n in range(10)]
    assert logged == [True] * 3 + [False] * 7
    assert peer_log.info("5.6.7.8", "error", "other peer")  # its own budget
    assert peer_log.info("5.6.7.8", "closed", "other key")
    assert not peer_log.info("9.9.9.9", "closed", "over the budget of all peers together")
    assert len(shown()) == 5
    now[0] = 61.0  # the windows are over: the held-back lines are summed up, at their level
    assert peer_log.warning("1.2.3.4", "error", "a new window")
    summaries = [r for r in caplog.records if "suppressed" in r.getMessage()]
    assert [s.getMessage() for s in summaries] == [
        "7 similar lines from 1.2.3.4 suppressed (error)",
        "1 similar lines from 9.9.9.9 suppressed (closed)",
    ]
    assert summaries[0].levelno == logging.WARNING
    for n in range(100):  # many peers: memory stays at max_keys pairs
        peer_log.info(f"10.0.0.{n}", "error", "peer %d", n)
    assert len(peer_log._windows) <= 4
