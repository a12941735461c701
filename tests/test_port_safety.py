"""Every MessagePack-RPC port of a running cluster shrugs off bad peers and serves good ones on."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import struct
import subprocess
import time

import msgpack
import pytest

from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcConnection, RpcError, connect

pytestmark = pytest.mark.cluster

# (how to find the port, a role that may connect there, a method that needs authentication)
PORTS = {
    "master": ("master", "daemon", "worlds"),
    "gm": ("gm", "characters", "audit"),
    "daemon-worlds": ("daemon Atlantis", "world", "list_characters"),
    "daemon-characters": ("daemon.characters_port", "characters", None),
    "daemon-imps": ("daemon.imp_port", "imp", None),
    "world": ("world Atlantis/0", "zone", "characters"),
    "zone": ("zone town", None, "logout"),
}


def port_of(cluster, key: str) -> int:
    where = PORTS[key][0]
    if where.startswith("daemon."):  # fixed ports from the world's config
        return int(getattr(cluster.settings.worlds["Atlantis"].daemon, where.split(".")[1]))
    return cluster.announced_port(where)


async def probe(port: int) -> None:
    """A fresh, well-behaved client still gets a proper answer on this port."""
    conn = await connect("127.0.0.1", port)
    try:
        with pytest.raises(RpcError) as answer:
            await conn.call("no_such_method_here")
        assert answer.value.code == "no_such_method"
    finally:
        conn.close()


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> list[object]:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    unpacker = msgpack.Unpacker(raw=False)
    async with asyncio.timeout(timeout):
        while data := await reader.read(65536):
            unpacker.feed(data)
    return list(unpacker)


@pytest.fixture
async def bystander(cluster, request):
    """A client connected before the trouble starts, on the port under test."""
    conns: list[RpcConnection] = []

    async def open_on(port: int) -> RpcConnection:
        conn = await connect("127.0.0.1", port)
        conns.append(conn)
        return conn

    yield open_on
    for conn in conns:
        conn.close()


@pytest.mark.parametrize("key", [k for k, v in sorted(PORTS.items()) if v[2]])
async def test_call_before_handshake_is_refused(cluster, key: str) -> None:
    conn = await connect("127.0.0.1", port_of(cluster, key))
    try:
        with pytest.raises(RpcError) as refused:
            await conn.call(PORTS[key][2])
        assert refused.value.code == "auth_required"
    finally:
        conn.close()


@pytest.mark.parametrize("key", [k for k, v in sorted(PORTS.items()) if v[1]])
async def test_wrong_link_secret_is_refused_and_closed(cluster, key: str) -> None:
    conn = await connect("127.0.0.1", port_of(cluster, key))
    with pytest.raises(RpcError) as refused:
        await authenticate_service(conn, role=PORTS[key][1], name="intruder", secret=os.urandom(32),
                                   peer_role="server")
    assert refused.value.code == "auth_failed"
    await asyncio.wait_for(conn.wait_closed(), 5)


@pytest.mark.parametrize("key", sorted(PORTS))
async def test_garbage_bytes_close_only_that_connection(cluster, bystander, key: str) -> None:
    port = port_of(cluster, key)
    other = await bystander(port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\xc1" + os.urandom(64))  # 0xc1 is never valid MessagePack
    messages = await read_until_closed(reader)
    assert messages and messages[-1][1] == "error", messages
    writer.close()
    with pytest.raises(RpcError) as answer:  # the bystander's connection still works
        await other.call("no_such_method_here")
    assert answer.value.code == "no_such_method"
    await probe(port)


@pytest.mark.parametrize("key", sorted(PORTS))
async def test_non_rpc_message_closes_the_connection(cluster, key: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(cluster, key))
    writer.write(msgpack.packb({"hello": "world"}))
    messages = await read_until_closed(reader)
    assert messages[-1] == [
        2, "error", [{"code": "protocol", "message": "expected a MessagePack-RPC array"}]
    ]
    writer.close()


@pytest.mark.parametrize("key", sorted(PORTS))
async def test_oversized_frame_closes_only_that_connection(cluster, bystander, key: str) -> None:
    port = port_of(cluster, key)
    other = await bystander(port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # a request whose one string param claims 64 MiB, followed by a lot of it
    header = b"\x94\x00\x01\xa4ping\x91\xdb" + (64 * 1024 * 1024).to_bytes(4, "big")
    writer.write(header + b"x" * (1024 * 1024))
    try:
        messages = await read_until_closed(reader)
    except (ConnectionResetError, BrokenPipeError):
        messages = [[2, "error", [{"code": "too_large"}]]]  # closed while we were still sending
    assert messages and messages[-1][2][0]["code"] == "too_large"
    writer.close()
    with pytest.raises(RpcError) as answer:
        await other.call("no_such_method_here")
    assert answer.value.code == "no_such_method"
    await probe(port)


async def test_bad_params_name_the_field(cluster) -> None:
    conn = await connect("127.0.0.1", cluster.master_port)
    try:
        with pytest.raises(RpcError) as refused:
            await conn.call("login_start", "alice", 42)
        assert refused.value.code == "bad_params"
        assert "client_first" in refused.value.message
    finally:
        conn.close()


async def test_unauthenticated_connections_are_dropped(cluster) -> None:
    """A connection that never authenticates is closed after the handshake deadline."""
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.master_port)
    messages = await read_until_closed(reader, timeout=20)
    assert messages[-1][2][0]["code"] == "auth_timeout"
    writer.close()


def listen_backlog_of(port: int) -> int:
    """The accept-queue size of the socket listening on ``port`` (``ss`` shows it as Send-Q)."""
    shown = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert shown and shown[0] == "LISTEN", shown
    return int(shown[2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
async def test_every_port_queues_a_crowd_of_connects(cluster) -> None:
    with open("/proc/sys/net/core/somaxconn") as cap_file:
        expected = min(4096, int(cap_file.read()))
    backlogs = {key: listen_backlog_of(port_of(cluster, key)) for key in sorted(PORTS)}
    assert backlogs == dict.fromkeys(backlogs, expected)


@pytest.mark.parametrize("key", sorted(PORTS))
async def test_a_big_message_before_authentication_is_refused(cluster, bystander, key: str) -> None:
    """Before authenticating, a few KiB are all anyone may send in one message."""
    port = port_of(cluster, key)
    other = await bystander(port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(msgpack.packb([0, 1, "no_such_method_here", ["x" * 6000]]))
    messages = await read_until_closed(reader)
    assert messages == [
        [2, "error", [{"code": "too_large", "message": "message larger than the limit"}]]
    ]
    writer.close()
    with pytest.raises(RpcError) as answer:
        await other.call("no_such_method_here")
    assert answer.value.code == "no_such_method"


async def test_register_refuses_a_salt_sent_as_text(cluster) -> None:
    """A client that sends the salt as hex or base64 text learns it at once, not at login."""
    salt = os.urandom(16)
    conn = await connect("127.0.0.1", cluster.master_port)
    try:
        for text in (salt.hex(), base64.b64encode(salt).decode()):
            with pytest.raises(RpcError) as refused:
                await conn.call("register", "textsalt", text, os.urandom(32), os.urandom(32), 4096)
            assert refused.value.code == "bad_params"
            assert "`salt`" in refused.value.message
    finally:
        conn.close()


async def test_a_flood_of_login_starts_does_not_slow_another_login(cluster) -> None:
    """20,000 `login_start` notifications on one connection: the master reads them a few at a
    time, and a login on another connection is answered as promptly as ever."""
    _, writer = await asyncio.open_connection("127.0.0.1", cluster.master_port)
    flood = msgpack.packb([2, "login_start", ["mallory", "n,,n=mallory,r=flood"]])
    writer.write(flood * 20_000)
    conn = await connect("127.0.0.1", cluster.master_port)
    try:
        for attempt in range(5):  # while the master works through the flood (~10 s on d9ae4bf)
            started = time.monotonic()
            answer = await conn.call("login_start", "alice", f"n,,n=alice,r=nonce{attempt}")
            assert "server_first" in answer
            assert time.monotonic() - started < 2.0
            conn.close()
            conn = await connect("127.0.0.1", cluster.master_port)
    finally:
        conn.close()
        sock = writer.get_extra_info("socket")  # reset: what the master has not read is dropped
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
