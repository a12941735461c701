"""wire/relay.py and wire/peers.py on a toy protocol: tables, hops, links dialled in, sessions."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

import msgspec
import pytest

from shardkit.testing.loopback import loopback
from shardkit.wire.link import InboundLink
from shardkit.wire.peers import Notification, Peer, SessionSlot, encode_notice, notify
from shardkit.wire.relay import Adds, Relayed, RelayTable, calls_of, entry_relay, middle_relay
from shardkit.wire.rpc import Identity, Router, RpcConnection, RpcError, methods_of, rpc

SPEAKER = Adds(("speaker",), "who speaks")


class Shout(msgspec.Struct, array_like=True):
    speaker: str
    text: str
    times: int = 1


class Heard(msgspec.Struct):
    line: str


class Ping(msgspec.Struct, array_like=True):
    payload: int


class Echoes(RelayTable):
    """A toy protocol: edge -> middle -> last."""

    served_to = ("middle",)
    shout = Relayed(Shout, Heard, "Say something loud.", adds=SPEAKER)
    ping = Relayed(Ping, int, "Bounce a number.", roles=("robot",), entry_name="bounce")


class Last:
    @Echoes.shout.serve()
    def shout(self, conn: RpcConnection, p: Shout) -> Heard:
        if p.text == "boom":
            raise RpcError("too_loud", "that was too loud")
        return Heard(f"{p.speaker}: {p.text.upper()}" + "!" * p.times)

    @Echoes.ping.serve()
    def ping(self, conn: RpcConnection, p: Ping) -> int:
        return p.payload + 1


EdgeRelay = entry_relay(Echoes, "EdgeRelay", module=__name__, doc="The entry hop.")
MiddleRelay = middle_relay(Echoes, "MiddleRelay", module=__name__, doc="The middle hop.",
                           roles=("edge",))


class Caller:
    """A client whose class reads the table's calls (as GameClient reads the guild table)."""

    shout = Echoes.shout
    bounce = Echoes.ping

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def relay_peer(self) -> Peer:
        return self.peer


def test_a_table_declares_names_params_results_and_docs_once() -> None:
    assert [c.name for c in calls_of(Echoes)] == ["shout", "ping"]
    assert Echoes.shout.entry_params is not None
    assert Echoes.shout.entry_params.__struct_fields__ == ("text", "times")
    assert msgspec.convert(["hi"], Echoes.shout.entry_params).times == 1  # defaults kept
    assert Echoes.ping.entry_params is Ping and Echoes.ping.entry_name == "bounce"
    edge = {s.name: s for s in methods_of(EdgeRelay)}
    assert set(edge) == {"shout", "bounce"}
    assert edge["shout"].roles == {"player"} and edge["bounce"].roles == {"robot"}
    assert edge["shout"].doc == "Say something loud."
    middle = {s.name: s for s in methods_of(MiddleRelay)}
    assert middle["shout"].params is Shout and middle["ping"].roles == {"edge"}
    last = {s.name: s for s in methods_of(Last)}
    assert last["shout"].roles == {"middle"} and last["ping"].doc == "Bounce a number."
    assert EdgeRelay.__module__ == __name__ and EdgeRelay.__qualname__ == "EdgeRelay"


def test_a_call_is_declared_in_a_table_and_adds_fields_its_params_have() -> None:
    with pytest.raises((TypeError, RuntimeError)):
        type("NotATable", (), {"shout": Relayed(Shout, Heard, "x")})
    with pytest.raises((TypeError, RuntimeError)):
        type("Broken", (RelayTable,), {"shout": Relayed(Shout, Heard, "x",
                                                        adds=Adds(("volume",), "?"))})
    with pytest.raises(TypeError, match="needs a filler"):
        EdgeRelay(InboundLink("nobody"), fill={})


async def test_calls_travel_every_hop_with_what_the_entry_adds() -> None:
    checked: list[str] = []

    def no_whispers(conn: RpcConnection, p: Shout) -> None:
        checked.append(p.text)
        if not p.text:
            raise RpcError("too_quiet", "say something")

    async with AsyncExitStack() as stack:
        last = await stack.enter_async_context(loopback(
            Router.for_services(Last()), identity=Identity("middle", "m")))
        middle = await stack.enter_async_context(loopback(
            Router.for_services(MiddleRelay(last.client)), identity=Identity("edge", "e")))
        edge = EdgeRelay(middle.client, fill={SPEAKER: lambda conn: (conn.identity.name,)},
                         checks=[Echoes.shout.check(no_whispers)])
        player = await stack.enter_async_context(loopback(
            Router.for_services(edge), identity=Identity("player", "ann", 1)))
        caller = Caller(player.client)
        heard = await caller.shout("hello", 3)
        assert heard == Heard("ann: HELLO!!!")
        with pytest.raises(RpcError) as quiet:
            await caller.shout("")
        assert quiet.value.code == "too_quiet"
        with pytest.raises(RpcError) as loud:
            await caller.shout("boom")
        assert (loud.value.code, loud.value.message) == ("too_loud", "that was too loud")
        assert checked == ["hello", "", "boom"]
        with pytest.raises(RpcError) as robots_only:
            await caller.bounce(1)
        assert robots_only.value.code == "forbidden"
        assert await Echoes.ping.send(middle.client, Ping(41)) == 42


async def test_an_inbound_link_waits_for_its_peer_and_the_newest_wins() -> None:
    ups: list[RpcConnection] = []
    link = InboundLink("the peer", on_up=ups.append, wait_s=0.05)
    with pytest.raises(RpcError) as early:
        await link.call("anything")
    assert (early.value.code, early.value.message) == ("unavailable", "the peer is not connected")
    assert link.notify("anything") is False

    class Answers:
        @rpc("answer", roles=None, public=True)
        def answer(self, conn: RpcConnection) -> int:
            return 42

    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(loopback(Router.for_services(Answers())))
        second = await stack.enter_async_context(loopback(Router.for_services(Answers())))
        link.attach(first.client)
        assert await link.call_as(int, "answer") == 42
        link.attach(second.client)
        await asyncio.wait_for(first.client.wait_closed(), 5)  # the older one is closed
        assert link.conn is second.client and ups == [first.client, second.client]
        second.client.close("peer went away")
        assert link.conn is None and not link.up.is_set()


@dataclass
class Visit:
    steps: int = 0


class Waved(Notification):
    method = "waved"

    who: str
    times: int = 1


async def test_sessions_and_notifications_are_typed() -> None:
    slot: SessionSlot[Visit] = SessionSlot(Visit)
    heard: list[Waved] = []

    class Listens:
        @rpc("waved", Waved, public=True)
        def waved(self, conn: RpcConnection, p: Waved) -> None:
            heard.append(p)

    async with loopback(Router(), Router.for_services(Listens())) as pair:
        assert slot.get(pair.server) is None
        slot.of(pair.server).steps += 1
        slot.of(pair.server).steps += 1
        assert slot.get(pair.server) == Visit(2)
        assert SessionSlot(dict).get(pair.server) is None  # another component's type: not ours
        notify(pair.server, Waved("ann", 2))
        pair.server.send_encoded(encode_notice(Waved("bob")))
        for _ in range(100):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.01)
    assert heard == [Waved("ann", 2), Waved("bob", 1)]


async def test_a_hop_with_many_next_hops_routes_each_call_by_its_params() -> None:
    with pytest.raises(TypeError, match="an upstream or a route"):
        MiddleRelay()
    with pytest.raises(TypeError, match="an upstream or a route"):
        MiddleRelay(InboundLink("x"), route=lambda p: InboundLink("y"))

    class Numbered:
        def __init__(self, offset: int) -> None:
            self.offset = offset

        @Echoes.ping.serve()
        def ping(self, conn: RpcConnection, p: Ping) -> int:
            return p.payload + self.offset

    async with AsyncExitStack() as stack:
        lasts = [await stack.enter_async_context(loopback(
            Router.for_services(Numbered(offset)), identity=Identity("middle", "m")))
            for offset in (100, 200)]

        def route(p: object) -> Peer:
            assert isinstance(p, Ping)
            if p.payload >= 10:
                raise RpcError("no_such_shard", f"no shard for {p.payload}")
            return lasts[p.payload % 2].client

        middle = await stack.enter_async_context(loopback(
            Router.for_services(MiddleRelay(route=route)), identity=Identity("edge", "e")))
        assert await Echoes.ping.send(middle.client, Ping(2)) == 102
        assert await Echoes.ping.send(middle.client, Ping(3)) == 203
        with pytest.raises(RpcError) as nowhere:
            await Echoes.ping.send(middle.client, Ping(12))
        assert (nowhere.value.code, nowhere.value.message) == ("no_such_shard", "no shard for 12")
