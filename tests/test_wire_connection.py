"""RpcConnection in process, over a real socketpair (``shardkit.testing.loopback``).

Dispatch, roles, typed params, notifications both ways, closing, timeouts, and what is never
answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
import msgspec
import pytest

from shardkit.testing.loopback import loopback
from shardkit.wire.handshake import close_after_reply
from shardkit.wire.rpc import (
    SERVICE_LIMITS,
    ConnectionClosed,
    Identity,
    Limits,
    Router,
    RpcConnection,
    RpcError,
    encode_notification,
    methods_of,
    rpc,
)

DAEMON = Identity("daemon", "Atlantis")


class Point(msgspec.Struct, array_like=True):
    x: int
    y: int


class Move(msgspec.Struct, array_like=True):
    who: str
    to: Point
    salt: bytes = b""


class Text(msgspec.Struct, array_like=True):
    text: str


class Place(msgspec.Struct):
    x: int
    y: int


class Service:
    """What the server end dispatches into."""

    def __init__(self) -> None:
        self.heard: asyncio.Queue[str] = asyncio.Queue()
        self.release = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.started = asyncio.Event()

    @rpc("ping", public=True)
    def ping(self, conn: RpcConnection) -> str:
        return "pong"

    @rpc("nothing", public=True)
    def nothing(self, conn: RpcConnection) -> None:
        return None

    @rpc("later", Text, public=True)
    async def later(self, conn: RpcConnection, p: Text) -> str:
        await asyncio.sleep(0)
        return p.text * 2

    @rpc("move", Move, roles=("daemon", "world"))
    def move(self, conn: RpcConnection, p: Move) -> dict[str, int]:
        return {"x": p.to.x, "y": p.to.y}

    @rpc("place", public=True)
    def place(self, conn: RpcConnection) -> dict[str, int]:
        return {"x": 1, "y": 2}

    @rpc("players_only", roles=("player",))
    def players_only(self, conn: RpcConnection) -> str:
        return "hi player"

    @rpc("hang", public=True)
    async def hang(self, conn: RpcConnection) -> str:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return "released"

    @rpc("boom", Text, public=True)
    def boom(self, conn: RpcConnection, p: Text) -> None:
        raise ValueError(f"secret internals {p.text}")

    @rpc("refuse", public=True)
    async def refuse(self, conn: RpcConnection) -> None:
        raise RpcError("not_now", "try later")

    @rpc("tell", Text, public=True)
    def tell(self, conn: RpcConnection, p: Text) -> None:
        self.heard.put_nowait(p.text)

    @rpc("shout_back", Text, public=True)
    async def shout_back(self, conn: RpcConnection, p: Text) -> None:
        conn.notify("heard", p.text.upper())

    @rpc("last_word", public=True)
    async def last_word(self, conn: RpcConnection) -> str:
        await asyncio.sleep(0)
        close_after_reply(conn, "said its last word")
        return "goodbye"

    @rpc("last_word_now", public=True)
    def last_word_now(self, conn: RpcConnection) -> str:
        close_after_reply(conn, "said its last word")
        return "goodbye at once"

    @rpc("ask_back", Text, public=True)
    async def ask_back(self, conn: RpcConnection, p: Text) -> str:
        return f"the client said {await conn.call('answer', p.text)}"


class ErrorReport(msgspec.Struct, array_like=True):
    error: Any


class Client:
    """What the client end dispatches into: what the server notifies and asks it."""

    def __init__(self) -> None:
        self.heard: asyncio.Queue[str] = asyncio.Queue()
        self.errors: asyncio.Queue[Any] = asyncio.Queue()

    @rpc("heard", Text, public=True)
    def heard_it(self, conn: RpcConnection, p: Text) -> None:
        self.heard.put_nowait(p.text)

    @rpc("answer", Text, public=True)
    def answer(self, conn: RpcConnection, p: Text) -> str:
        return p.text[::-1]


class ErrorCatcher(Client):
    """A client that handles ``error`` notifications itself (so they are not only logged)."""

    @rpc("error", ErrorReport, public=True)
    def error(self, conn: RpcConnection, p: ErrorReport) -> None:
        self.errors.put_nowait(p.error)


def server_router(service: Service | None = None) -> Router:
    return Router.for_services(service or Service())


# ------------------------------------------------------------------------ dispatch


async def test_sync_and_async_handlers_answer_and_results_convert_to_a_type() -> None:
    async with loopback(server_router()) as pair:
        assert await pair.client.call("ping") == "pong"
        assert await pair.client.call("nothing") is None
        assert await pair.client.call("later", "ab") == "abab"
        assert await pair.client.call_as(Place, "place") == Place(1, 2)


async def test_a_quick_answer_overtakes_a_slow_one() -> None:
    service = Service()
    async with loopback(server_router(service)) as pair:
        slow = asyncio.ensure_future(pair.client.call("hang"))
        await asyncio.wait_for(service.started.wait(), 5)
        assert await pair.client.call("ping") == "pong"
        assert not slow.done() and pair.server.in_flight == 1
        service.release.set()
        assert await asyncio.wait_for(slow, 5) == "released"
        assert pair.server.in_flight == 0


async def test_the_server_may_call_back_the_client_while_answering() -> None:
    async with loopback(server_router(), Router.for_services(Client())) as pair:
        assert await pair.client.call("ask_back", "abc") == "the client said cba"


async def test_a_pipelined_batch_is_answered_before_the_error_that_ends_it() -> None:
    """Answers held while a batch is handled leave before the connection's last error."""
    catcher = ErrorCatcher()
    async with loopback(server_router(), Router.for_services(catcher)) as pair:
        calls = [asyncio.ensure_future(pair.client.call("ping")) for _ in range(50)]
        await asyncio.sleep(0)  # each call has written its request
        pair.client.send_encoded(msgpack.packb([7, "not a kind of message"]))
        assert await asyncio.gather(*calls) == ["pong"] * 50
        error = await asyncio.wait_for(catcher.errors.get(), 5)
        assert error == {"code": "protocol", "message": "expected a MessagePack-RPC array"}
        await asyncio.wait_for(pair.client.wait_closed(), 5)


@pytest.mark.parametrize("method", ["last_word", "last_word_now"])
async def test_a_handler_that_closes_after_its_reply_still_gets_it_out(method: str) -> None:
    async with loopback(server_router()) as pair:
        assert (await pair.client.call(method)).startswith("goodbye")
        await asyncio.wait_for(pair.client.wait_closed(), 5)
        assert pair.server.close_reason == "said its last word"


def test_methods_of_lists_a_service_class_declarations_sorted() -> None:
    specs = {spec.name: spec for spec in methods_of(Service)}
    assert list(specs) == sorted(specs)
    assert specs["ping"].roles is None and specs["ping"].params is None
    assert specs["move"].roles == frozenset({"daemon", "world"}) and specs["move"].params is Move
    assert specs["later"].doc == ""


# --------------------------------------------------------------------------- roles


async def test_public_methods_need_no_identity_and_others_need_the_right_role() -> None:
    async with loopback(server_router()) as pair:
        assert await pair.client.call("ping") == "pong"
        with pytest.raises(RpcError) as anonymous:
            await pair.client.call("move", "ann", [1, 2])
        assert anonymous.value.code == "auth_required"
        pair.server.identity = Identity("player", "ann", account_id=7)
        with pytest.raises(RpcError) as player:
            await pair.client.call("move", "ann", [1, 2])
        assert player.value.code == "forbidden" and "player" in player.value.message
        assert await pair.client.call("players_only") == "hi player"
        pair.server.identity = Identity("world", "Atlantis/0")
        assert await pair.client.call("move", "ann", [1, 2]) == {"x": 1, "y": 2}


async def test_a_notification_past_its_role_closes_the_connection() -> None:
    catcher = ErrorCatcher()
    async with loopback(server_router(), Router.for_services(catcher),
                        identity=Identity("player", "ann")) as pair:
        pair.client.notify("move", "ann", [1, 2])
        assert (await asyncio.wait_for(catcher.errors.get(), 5))["code"] == "forbidden"
        await asyncio.wait_for(pair.server.wait_closed(), 5)


async def test_bounds_follow_authentication_and_a_service_handshake() -> None:
    anonymous, player = Limits(max_in_flight=2), Limits(max_in_flight=20)

    class _Writer:
        def get_extra_info(self, name: str) -> object:
            return ("127.0.0.1", 4242)

    conn = RpcConnection(asyncio.StreamReader(), _Writer(),  # type: ignore[arg-type]
                         limits=player, anonymous_limits=anonymous)
    assert conn.limits is anonymous and conn.label == "127.0.0.1:4242"
    conn.identity = Identity("player", "ann")
    assert conn.limits is player and not conn.is_service
    conn.trust_as_service()
    assert conn.limits is SERVICE_LIMITS and conn.is_service
    conn.identity = None
    assert conn.limits is SERVICE_LIMITS  # no smaller bound once the link proved its secret


# ------------------------------------------------------------------------- params


async def test_param_errors_name_the_field() -> None:
    async with loopback(server_router(), identity=DAEMON) as pair:
        cases: list[tuple[tuple[Any, ...], str]] = [
            (("ann", [1, "two"]), "`to.y`"),  # a nested field, by name
            (("ann",), "missing `to`"),
            ((42, [1, 2]), "`who`"),
            (("ann", [1, 2], "salt as text"), "`salt`"),  # bytes take only MessagePack bin
        ]
        for params, named in cases:
            with pytest.raises(RpcError) as refused:
                await pair.client.call("move", *params)
            assert refused.value.code == "bad_params", params
            assert named in refused.value.message, (params, refused.value.message)
        with pytest.raises(RpcError) as extra:
            await pair.client.call("ping", 1)
        assert extra.value.code == "bad_params" and "takes no params" in extra.value.message
        assert await pair.client.call("move", "ann", [3, 4], b"\x00") == {"x": 3, "y": 4}
        # extra trailing params are ignored (docs/protocol.md: a newer client may send more)
        assert await pair.client.call("move", "ann", [3, 4], b"", "extra") == {"x": 3, "y": 4}


async def test_unknown_methods_and_failing_handlers_answer_errors_without_internals() -> None:
    async with loopback(server_router()) as pair:
        with pytest.raises(RpcError) as unknown:
            await pair.client.call("fly\n[notice] forged")
        assert unknown.value.code == "no_such_method" and "\n" not in unknown.value.message
        with pytest.raises(RpcError) as failed:
            await pair.client.call("boom", "x")
        assert failed.value.code == "internal" and "secret" not in failed.value.message
        with pytest.raises(RpcError) as refused:
            await pair.client.call("refuse")
        assert (refused.value.code, refused.value.message) == ("not_now", "try later")
        assert await pair.client.call("ping") == "pong"  # the connection stays


# ------------------------------------------------------------------- notifications


async def test_notifications_both_ways() -> None:
    service, client = Service(), Client()
    async with loopback(server_router(service), Router.for_services(client)) as pair:
        pair.client.notify("tell", "to the server")
        assert await asyncio.wait_for(service.heard.get(), 5) == "to the server"
        pair.client.notify("shout_back", "and back")
        assert await asyncio.wait_for(client.heard.get(), 5) == "AND BACK"
        pair.server.send_encoded(encode_notification("heard", "encoded once"))
        assert await asyncio.wait_for(client.heard.get(), 5) == "encoded once"


async def test_a_refused_notification_is_answered_with_an_error_notification() -> None:
    catcher = ErrorCatcher()
    async with loopback(server_router(), Router.for_services(catcher)) as pair:
        pair.client.notify("no_such_thing")
        pair.client.notify("tell", 42)
        pair.client.notify("refuse")  # an async handler's RpcError
        codes = [(await asyncio.wait_for(catcher.errors.get(), 5))["code"] for _ in range(3)]
        assert codes == ["no_such_method", "bad_params", "not_now"]
        assert await pair.client.call("ping") == "pong"


async def test_an_error_notification_is_never_answered(caplog, monkeypatch) -> None:
    """An ``error`` notification (of any shape) is logged, not answered; otherwise two peers
    that each refuse the other's message would send errors back and forth for ever."""
    from shardkit.runtime.peerlog import PeerLog
    from shardkit.wire import incoming

    monkeypatch.setattr(incoming, "peer_log", PeerLog(incoming.log, burst=50, max_lines=50))
    caplog.set_level(logging.DEBUG, logger="shardkit.wire")
    server_side = ErrorCatcher()  # the server end takes error notifications too: to count them
    client_side = Client()  # the client end has no `error` method: it only logs them
    async with loopback(Router.for_services(Service(), server_side),
                        Router.for_services(client_side)) as pair:
        pair.client.notify("no_such_thing")  # the server answers with an error notification
        for odd in ([], [42], ["text"], [{"code": 1}], [{"code": "x", "message": "y"}]):
            pair.server.notify("error", *odd)  # and errors of every shape, to the client
        assert await pair.client.call("ping") == "pong"
        assert await pair.server.call("answer", "ok") == "ko"  # all of them read by now
        assert server_side.errors.empty(), "the client answered an error notification"
    reports = [r for r in caplog.records if "reports an error" in r.getMessage()]
    assert len(reports) == 6 and {r.levelno for r in reports} == {logging.DEBUG}


# -------------------------------------------------------------------------- closing


async def test_close_callbacks_run_once_even_when_added_late_or_failing(caplog) -> None:
    ran: list[str] = []
    awaited = asyncio.Event()

    async def later(conn: RpcConnection) -> None:
        ran.append(f"async {conn.close_reason}")
        awaited.set()

    def broken(conn: RpcConnection) -> None:
        raise RuntimeError("callback bug")

    async with loopback(server_router()) as pair:
        pair.client.on_close(lambda conn: ran.append(f"sync {conn.close_reason}"))
        pair.client.on_close(broken)
        pair.client.on_close(later)
        pair.client.close("done here")
        pair.client.close("twice")
        await asyncio.wait_for(awaited.wait(), 5)
        pair.client.on_close(lambda conn: ran.append("added after the close"))
        await asyncio.wait_for(pair.server.wait_closed(), 5)  # the peer sees the end
    assert ran == ["sync done here", "async done here", "added after the close"]
    assert any("close callback" in r.getMessage() for r in caplog.records)


async def test_pending_calls_fail_when_either_end_closes() -> None:
    service = Service()
    async with loopback(server_router(service)) as pair:
        waiting = asyncio.ensure_future(pair.client.call("hang"))
        await asyncio.wait_for(service.started.wait(), 5)
        pair.server.close("server going away")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(waiting, 5)
        await asyncio.wait_for(service.cancelled.wait(), 5)  # its handler was cancelled
        assert pair.server.in_flight == 0

    async with loopback(server_router(Service())) as pair:
        waiting = asyncio.ensure_future(pair.client.call("hang"))
        await asyncio.sleep(0)
        pair.client.close("client gave up")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(waiting, 5)
        assert closed.value.message == "client gave up"
        with pytest.raises(ConnectionClosed):  # and any call after the close, at once
            await pair.client.call("ping")


async def test_a_call_times_out_and_its_late_answer_is_dropped() -> None:
    service = Service()
    async with loopback(server_router(service),
                        client_limits=Limits(call_timeout_s=0.2)) as pair:
        with pytest.raises(RpcError) as timed_out:
            await pair.client.call("hang")  # the connection's own call timeout
        assert timed_out.value.code == "timeout" and "hang" in timed_out.value.message
        with pytest.raises(RpcError):
            await pair.client.call("hang", timeout=0.05)  # or the call's
        assert not pair.client._pending
        service.release.set()  # the late answers arrive and are ignored
        assert await pair.client.call("ping") == "pong"
        assert not pair.client.closed.is_set()
