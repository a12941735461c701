"""The web process without a cluster: target rules, sessions, framing, metrics helpers, pages, TLS, idle links."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgpack
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shardkit.config.settings import Settings, load_settings
from shardkit.runtime.metrics import HistogramSnapshot, ProcessMetrics, histogram_snapshot
from shardkit.testing.harness import write_cluster_config
from shardkit.web.bridge import CloseCode
from shardkit.web.server import WebServer
from shardkit.web.targets import (
    Address,
    BridgeSession,
    HandOutWatch,
    LinkCounter,
    SessionTable,
    ip_group,
    parse_target,
)
from shardkit.wire.framing import FrameSplitter, MessageTooLarge, StreamError

MASTER = Address("127.0.0.1", 2002)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeLink:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    def close_link(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


# ---------------------------------------------------------------------------- targets


def test_targets_are_master_or_host_and_port() -> None:
    assert parse_target("master") == "master"
    assert parse_target("127.0.0.1:2006") == Address("127.0.0.1", 2006)
    assert parse_target("Play.Example.com:443") == Address("play.example.com", 443)
    assert parse_target("[::1]:2006") == Address("::1", 2006)
    assert str(Address("::1", 2006)) == "[::1]:2006"
    for bad in ("", "2006", "host:", "host:0", "host:65536", "host:99999999", "::1:2006",
                "a b:1", "x;rm:1", "h/x:1", "master:1:2", ":2006", "h" * 300 + ":1"):
        assert parse_target(bad) is None, bad
    assert ip_group("2001:db8::1") == ip_group("2001:db8::ffff") == "2001:db8::/64"
    assert ip_group("::ffff:10.0.0.1") == "10.0.0.1"


def request(msgid: int, method: str, *params: object) -> bytes:
    return msgpack.packb([0, msgid, method, list(params)])


def response(msgid: int, result: object, error: object = None) -> bytes:
    return msgpack.packb([1, msgid, error, result])


def test_addresses_come_only_from_answers_to_the_listed_requests() -> None:
    master = HandOutWatch("master")
    entry = {"world": "Atlantis", "host": "127.0.0.1", "port": 2006, "ticket": b"t"}
    assert master.server_sent(response(7, entry)) is None  # nobody asked
    master.browser_sent(request(7, "worlds"))
    assert master.server_sent(response(7, entry)) is None  # not a method that hands out
    master.browser_sent(request(8, "enter_world", "Atlantis"))
    assert master.server_sent(response(9, entry)) is None  # another msgid
    assert master.server_sent(response(8, entry, {"code": "world_down"})) is None  # an error
    master.browser_sent(request(10, "enter_world", "Atlantis"))
    assert master.server_sent(response(10, entry)) == (Address("127.0.0.1", 2006), "world")
    assert master.server_sent(response(10, entry)) is None  # answered once
    master.browser_sent(request(11, "enter_world", "Atlantis"))
    assert master.server_sent(response(11, {"host": "x y", "port": 1})) is None  # not a host
    queue_ready = msgpack.packb([2, "queue_ready", ["Atlantis", "10.1.2.3", 2007, b"t"]])
    assert master.server_sent(queue_ready) == (Address("10.1.2.3", 2007), "world")
    assert master.server_sent(b"\x93\x02\xc1") is None  # garbage decodes to nothing

    world = HandOutWatch("world")
    assert world.server_sent(queue_ready) is None  # only the master hands out worlds
    world.browser_sent(request(3, "enter_game", "Hero"))
    zone = {"zone": "town", "host": "127.0.0.1", "port": 29000, "ticket": b"z"}
    assert world.server_sent(response(3, zone)) == (Address("127.0.0.1", 29000), "zone")

    flood = HandOutWatch("master")
    for msgid in range(100):
        flood.browser_sent(request(msgid, "enter_world", "A"))
    assert flood.server_sent(response(0, entry)) is None  # the oldest was forgotten
    assert flood.server_sent(response(99, entry)) is not None


def test_sessions_grant_forget_and_time_out() -> None:
    clock = Clock()
    table = SessionTable(MASTER, idle_timeout_s=60, linger_s=10, max_sessions=3, clock=clock)
    first = table.open("127.0.0.1")
    assert first is not None and table.get(first.token) is first
    other = Address("127.0.0.1", 2006)
    assert table.kind_of(first, "master") == table.kind_of(first, MASTER) == "master"
    assert table.kind_of(first, other) is None
    table.grant(first, other, "world")
    assert table.kind_of(first, other) == "world"
    for port in range(3000, 3000 + 2 * SessionTable.MAX_GRANTS):
        table.grant(first, Address("127.0.0.1", port), "zone")
    assert len(first.grants) == SessionTable.MAX_GRANTS and table.kind_of(first, other) is None

    link = FakeLink()
    table.attach(first, link)
    clock.now += 59
    assert table.sweep() == [] and table.get(first.token) is first
    table.touch(first)
    clock.now += 59
    assert table.sweep() == []
    clock.now += 2  # 61 s without a message: idle
    assert table.sweep() == [first] and table.get(first.token) is None

    second = table.open("127.0.0.1")
    assert second is not None
    table.attach(second, link)
    table.detach(second, link)
    clock.now += 9
    assert table.get(second.token) is second
    clock.now += 1  # no link for linger_s: forgotten
    assert table.get(second.token) is None and table.sweep() == []

    busy: list[BridgeSession] = []
    for _ in range(3):
        session = table.open("127.0.0.1")
        assert session is not None
        table.attach(session, FakeLink())
        busy.append(session)
    assert table.open("127.0.0.1") is None  # full of sessions with links open
    table.detach(busy[1], next(iter(busy[1].links)))
    assert table.open("127.0.0.1") is not None  # pushed out the one with no link
    assert table.get(busy[1].token) is None and len(table) == 3
    with pytest.raises(ValueError):
        SessionTable(MASTER, idle_timeout_s=0, linger_s=1, max_sessions=1)


def test_link_counter_caps_per_address_and_in_all() -> None:
    counter = LinkCounter(per_ip=2, total=3)
    assert counter.take("127.0.0.1") is None and counter.take("127.0.0.1") is None
    assert "too many" in (counter.take("127.0.0.1") or "")
    assert counter.take("2001:db8::1") is None
    assert "full" in (counter.take("127.0.0.2") or "")
    counter.give_back("127.0.0.1")
    assert counter.take("127.0.0.2") is None and counter.total == 3


# ---------------------------------------------------------------------------- framing


def test_frame_splitter_returns_each_message_as_it_came() -> None:
    messages = [msgpack.packb([2, "m", [b"x" * random.randrange(300), i, {"k": [1.5]}]])
                for i in range(300)]
    stream = b"".join(messages)
    for _ in range(50):
        splitter = FrameSplitter(4096)
        got: list[bytes] = []
        position = 0
        while position < len(stream):
            size = random.choice((1, 2, 7, 100, 1000, 3000))
            got += splitter.feed(stream[position:position + size], 1000)
            position += size
        assert got == messages and splitter.pending_bytes == 0


def test_frame_splitter_bounds_and_rejects() -> None:
    big = msgpack.packb(b"x" * 5000)
    with pytest.raises(MessageTooLarge):
        FrameSplitter(10_000).feed(big, 1000)
    with pytest.raises(MessageTooLarge):  # the first part of it is already over the limit
        FrameSplitter(10_000).feed(big[:1500], 1000)
    with pytest.raises(StreamError):
        FrameSplitter(10_000).feed(b"\xc1", 1000)  # a byte MessagePack never uses
    nested = b"\x91" * 2000 + b"\x00"  # deeper than msgpack allows
    with pytest.raises(StreamError):
        FrameSplitter(10_000).feed(nested, 5000)


# ---------------------------------------------------------------------------- metrics


def test_histogram_snapshots_are_checked_and_re_exported() -> None:
    metrics = ProcessMetrics()
    bounds = (0.01, 0.1)
    source = metrics.histogram("src_seconds", "Source.", buckets=bounds)
    for value in (0.005, 0.05, 0.05, 3.0):
        source.observe(value)
    snapshot = histogram_snapshot(source, bounds)
    assert snapshot.counts == (1, 3, 4) and snapshot.sum == pytest.approx(3.105)
    assert snapshot.quantile(0.5) == 0.1 and snapshot.quantile(1.0) == float("inf")
    assert HistogramSnapshot(bounds, [0, 0, 0], 0).quantile(0.5) is None
    for counts in ([1, 2], [2, 1, 3], [-1, 0, 0]):
        with pytest.raises(ValueError):
            HistogramSnapshot(bounds, counts, 0.0)
    other = ProcessMetrics()  # a registry of its own: same names do not clash
    other.live_histogram("copy_seconds", "Copy.", lambda: {("town",): snapshot}, ("zone",))
    families = {f.name: f for f in text_string_to_metric_families(other.render().decode())}
    samples = {(s.name, s.labels.get("le")): s.value for s in families["copy_seconds"].samples}
    assert samples[("copy_seconds_bucket", "0.1")] == 3
    assert samples[("copy_seconds_count", None)] == 4
    assert "process_cpu_seconds" in families


# ------------------------------------------------------------ the web process itself


@dataclass
class RunningWeb:
    server: WebServer
    stop: asyncio.Event
    task: asyncio.Task[int]

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.server.port}"


async def start_web(settings: Settings) -> RunningWeb:
    server = WebServer(settings, forward_addresses=False)  # the echo master speaks no bridge_forward
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    for _ in range(200):  # bounded: the port is set as soon as the server listens
        if server.port or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.port, "the web server did not start"
    return RunningWeb(server, stop, task)


@pytest.fixture
async def echo_master() -> AsyncIterator[int]:
    """A TCP server standing in for the master (echoes what it gets)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


def web_settings(root: Path, master_port: int, **web: object) -> Settings:
    write_cluster_config(root)
    settings = load_settings(root)
    settings.server.master.port = master_port
    settings.server.web = msgspec.structs.replace(settings.server.web, port=0, **web)
    return settings


async def test_pages_are_served_safely(tmp_path: Path, echo_master: int) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.html").write_text("<p>hello browser</p>")
    (tmp_path / "pages" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("nope")
    web = await start_web(web_settings(tmp_path, echo_master, static_dir="pages"))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(web.url() + "/") as page:
                assert page.status == 200 and "hello browser" in await page.text()
                assert "default-src 'self'" in page.headers["Content-Security-Policy"]
                assert page.headers["X-Content-Type-Options"] == "nosniff"
                assert "Server" not in page.headers
            async with http.get(web.url() + "/app.js") as script:
                assert script.status == 200
            for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/nothing.html"):
                async with http.get(web.url() + path) as missing:
                    assert missing.status in (403, 404), path
            async with http.get(web.url() + "/healthz") as health:
                assert await health.text() == "ok\n"
    finally:
        web.stop.set()
        assert await web.task == 0


async def test_idle_sessions_are_closed(tmp_path: Path, echo_master: int) -> None:
    web = await start_web(web_settings(tmp_path, echo_master, idle_timeout_s=0.5))
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(web.url("ws") + "/ws", params={"target": "master"})
            notice = await ws.receive(timeout=5)
            assert notice.type == aiohttp.WSMsgType.TEXT and '"kind": "master"' in notice.data
            await ws.send_bytes(msgpack.packb([2, "ping", []]))  # the echo comes back whole
            assert msgpack.unpackb((await ws.receive(timeout=5)).data) == [2, "ping", []]
            closing = await ws.receive(timeout=5)  # then nothing for 0.5 s: idle
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == CloseCode.IDLE
    finally:
        web.stop.set()
        assert await web.task == 0


async def test_pages_from_other_origins_are_refused(tmp_path: Path, echo_master: int) -> None:
    settings = web_settings(tmp_path, echo_master, allowed_origins=["https://play.example"])
    web = await start_web(settings)
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(web.url("ws") + "/ws", params={"target": "master"},
                                      origin="https://evil.example")
            assert refused.value.status == 403
            ws = await http.ws_connect(web.url("ws") + "/ws", params={"target": "master"},
                                       origin="https://play.example")
            assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT
            await ws.close()
    finally:
        web.stop.set()
        assert await web.task == 0


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "web.crt", directory / "web.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_when_a_certificate_is_configured(tmp_path: Path, echo_master: int) -> None:
    cert, key = self_signed(tmp_path)
    web = await start_web(web_settings(tmp_path, echo_master, tls_cert=str(cert),
                                       tls_key=str(key)))
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(web.url("https") + "/healthz", ssl=trust) as health:
                assert health.status == 200
            ws = await http.ws_connect(web.url("wss") + "/ws", params={"target": "master"},
                                       ssl=trust)
            assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT
            await ws.send_bytes(msgpack.packb([2, "over", ["tls"]]))
            assert msgpack.unpackb((await ws.receive(timeout=5)).data) == [2, "over", ["tls"]]
            await ws.close()
            with pytest.raises(aiohttp.ClientError):  # no plain HTTP on a TLS port
                async with http.get(web.url("http") + "/healthz") as plain:
                    await plain.read()
    finally:
        web.stop.set()
        assert await web.task == 0


async def test_half_a_tls_config_stops_the_web_process(tmp_path: Path, echo_master: int) -> None:
    server = WebServer(web_settings(tmp_path, echo_master, tls_cert="web.crt"))
    assert await server.run(asyncio.Event()) == 2
