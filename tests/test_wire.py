"""The wire on its own: MessagePack-RPC both ways, typed params, handshake, SCRAM and tickets."""

from __future__ import annotations

import asyncio
import os

import msgspec
import pytest

from shardkit.wire.handshake import ServiceAuth, authenticate_service
from shardkit.wire.rpc import Limits, Router, RpcConnection, RpcError, connect, rpc, serve
from shardkit.wire.scram import (
    ScramClientSession,
    ScramError,
    ScramServerSession,
    make_verifier,
)
from shardkit.wire.tickets import TicketRedeemer, issue_ticket, read_ticket


class Move(msgspec.Struct, array_like=True):
    dx: float
    dy: float


class Echo:
    def __init__(self) -> None:
        self.moves: list[Move] = []
        self.got_move = asyncio.Event()

    @rpc("ping", public=True)
    def ping(self, conn: RpcConnection) -> str:
        return "pong"

    @rpc("move", Move, roles=("player",))
    def move(self, conn: RpcConnection, p: Move) -> dict[str, float]:
        self.moves.append(p)
        self.got_move.set()
        return {"x": p.dx * 2}

    @rpc("slow", public=True)
    async def slow(self, conn: RpcConnection) -> str:
        return await conn.call("ask_back")

    @rpc("boom", public=True)
    def boom(self, conn: RpcConnection) -> None:
        raise ValueError("internal detail that must not leak")


class Answerer:
    @rpc("ask_back", public=True)
    def ask_back(self, conn: RpcConnection) -> str:
        return "answered by the client"


SECRET = os.urandom(32)


@pytest.fixture
async def server():
    echo = Echo()
    router = Router.for_services(echo, ServiceAuth({"player": SECRET}, "test-server"))
    srv = await serve("127.0.0.1", 0, router, limits=Limits(max_message_bytes=4096))
    yield srv, echo
    await srv.close()


async def test_request_response_and_server_calls_back(server) -> None:
    srv, _ = server
    conn = await connect("127.0.0.1", srv.port, Router.for_services(Answerer()))
    try:
        assert await conn.call("ping") == "pong"
        assert await conn.call("slow") == "answered by the client"
    finally:
        conn.close()


async def test_roles_params_and_errors(server) -> None:
    srv, echo = server
    conn = await connect("127.0.0.1", srv.port)
    try:
        with pytest.raises(RpcError) as before_auth:
            await conn.call("move", 1.0, 2.0)
        assert before_auth.value.code == "auth_required"
        await authenticate_service(conn, role="player", name="p1", secret=SECRET,
                                   peer_role="server")
        assert await conn.call("move", 1.5, 0) == {"x": 3.0}
        with pytest.raises(RpcError) as bad:
            await conn.call("move", 1.0, "north")
        assert bad.value.code == "bad_params" and "`dy`" in bad.value.message
        with pytest.raises(RpcError) as missing:
            await conn.call("move", 1.0)
        assert missing.value.code == "bad_params"
        with pytest.raises(RpcError) as unknown:
            await conn.call("fly")
        assert unknown.value.code == "no_such_method"
        with pytest.raises(RpcError) as internal:
            await conn.call("boom")
        assert internal.value.code == "internal" and "detail" not in internal.value.message
        conn.notify("move", 4.0, 5.0)
        await asyncio.wait_for(_until(lambda: Move(4.0, 5.0) in echo.moves, echo.got_move), 5)
    finally:
        conn.close()


async def _until(predicate, event: asyncio.Event) -> None:
    while not predicate():
        event.clear()
        await event.wait()


async def test_handshake_with_wrong_secret_fails_both_ways(server) -> None:
    srv, _ = server
    conn = await connect("127.0.0.1", srv.port)
    with pytest.raises(RpcError) as refused:
        await authenticate_service(conn, role="player", name="p", secret=b"x" * 32, peer_role="s")
    assert refused.value.code == "auth_failed"
    assert conn.identity is None or conn.closed.is_set()

    # a server that does not know the secret cannot fool a client either
    impostor = await serve("127.0.0.1", 0,
                           Router.for_services(ServiceAuth({"player": b"y" * 32}, "fake")))
    conn = await connect("127.0.0.1", impostor.port)
    with pytest.raises(RpcError) as fooled:
        await authenticate_service(conn, role="player", name="p", secret=SECRET, peer_role="s")
    assert "does not know" in fooled.value.message
    await impostor.close()


async def test_oversized_message_closes_connection(server) -> None:
    srv, _ = server
    conn = await connect("127.0.0.1", srv.port)
    with pytest.raises(RpcError):
        await conn.call("ping", "x" * 10_000)
    await asyncio.wait_for(conn.wait_closed(), 5)
    other = await connect("127.0.0.1", srv.port)
    assert await other.call("ping") == "pong"
    other.close()


def test_scram_round_trip_and_wrong_password() -> None:
    verifier = make_verifier("open sesame", 4096)
    for password, ok in (("open sesame", True), ("open sesame!", False)):
        client = ScramClientSession("ali", password)
        server = ScramServerSession(verifier)
        server_first = server.first(client.first())
        assert server.username == "ali"
        final = client.final(server_first)
        if ok:
            client.verify(server.final(final))
        else:
            with pytest.raises(ScramError):
                server.final(final)


def test_tickets_forged_expired_replayed_and_misdirected() -> None:
    key = os.urandom(32)
    now = [1000.0]
    redeemer = TicketRedeemer(key, kind="world", clock=lambda: now[0])

    def ticket(**kw: object) -> bytes:
        args = dict(kind="world", account_id=7, account_name="ann", destination="Atlantis",
                    ttl_s=30.0, clock=lambda: now[0])
        args.update(kw)
        return issue_ticket(key, **args)  # type: ignore[arg-type]

    good = ticket()
    assert redeemer.redeem(good, "Atlantis").account_id == 7
    with pytest.raises(RpcError) as replay:
        redeemer.redeem(good, "Atlantis")
    assert replay.value.code == "ticket_used"

    forged = bytearray(ticket())
    forged[5] ^= 1
    with pytest.raises(RpcError) as bad:
        redeemer.redeem(bytes(forged), "Atlantis")
    assert bad.value.code == "bad_ticket"
    with pytest.raises(RpcError):
        redeemer.redeem(issue_ticket(os.urandom(32), kind="world", account_id=7, account_name="ann",
                                     destination="Atlantis"), "Atlantis")

    late = ticket()
    now[0] += 31
    with pytest.raises(RpcError) as expired:
        redeemer.redeem(late, "Atlantis")
    assert expired.value.code == "ticket_expired"

    with pytest.raises(RpcError) as elsewhere:
        redeemer.redeem(ticket(), "Lemuria")
    assert elsewhere.value.code == "bad_ticket"
    with pytest.raises(RpcError) as wrong_kind:
        redeemer.redeem(ticket(kind="zone"), "Atlantis")
    assert wrong_kind.value.code == "bad_ticket"
    assert read_ticket(key, ticket(character="Alyx")).character == "Alyx"
