"""In-process loopback pair: calls, notifications both ways, roles, closing; a real socketpair."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from shardkit.testing.loopback import loopback
from shardkit.wire.rpc import Identity, Router, RpcConnection, RpcError, rpc


class Echo(msgspec.Struct, array_like=True):
    text: str


class Service:
    def __init__(self) -> None:
        self.heard: asyncio.Queue[str] = asyncio.Queue()

    @rpc("echo", Echo, roles=("daemon",))
    def echo(self, conn: RpcConnection, p: Echo) -> str:
        assert conn.identity is not None
        return f"{conn.identity.name}: {p.text}"

    @rpc("shout", Echo, roles=("daemon",))
    def shout(self, conn: RpcConnection, p: Echo) -> None:
        conn.notify("heard", p.text.upper())


class Listener:
    def __init__(self) -> None:
        self.heard: asyncio.Queue[str] = asyncio.Queue()

    @rpc("heard", Echo, public=True)
    def heard_it(self, conn: RpcConnection, p: Echo) -> None:
        self.heard.put_nowait(p.text)


async def test_a_call_reaches_the_service_as_the_given_identity() -> None:
    async with loopback(Router.for_services(Service()),
                        identity=Identity("daemon", "Atlantis")) as pair:
        assert await pair.client.call("echo", "hello") == "Atlantis: hello"


async def test_notifications_flow_back_to_the_client_router() -> None:
    listener = Listener()
    async with loopback(Router.for_services(Service()), Router.for_services(listener),
                        identity=Identity("daemon", "Atlantis")) as pair:
        pair.client.notify("shout", "hi")
        assert await asyncio.wait_for(listener.heard.get(), 5) == "HI"


async def test_roles_are_enforced_without_an_identity() -> None:
    async with loopback(Router.for_services(Service())) as pair:
        with pytest.raises(RpcError) as caught:
            await pair.client.call("echo", "hello")
        assert caught.value.code == "auth_required"


async def test_closing_one_end_closes_the_other() -> None:
    async with loopback(Router.for_services(Service())) as pair:
        pair.server.close("bye")
        await asyncio.wait_for(pair.client.wait_closed(), 5)
        assert pair.client.closed.is_set()
