"""MessagePack-RPC peer over an asyncio stream: requests, responses and notifications both ways.

Frames are the published MessagePack-RPC messages written back to back on the stream,
with no extra framing:

    request       [0, msgid, method, params]
    response      [1, msgid, error, result]
    notification  [2, method, params]

Each incoming object is bounded in size while it arrives and is decoded only once it is
whole (``wire/framing.py``), so what it decodes into is bounded too. A connection's
unanswered work (requests, and notifications whose handler is still running) is bounded by
reading less: at the bound the connection stops reading, and TCP makes the peer wait. A
connection that has not authenticated yet has smaller bounds than a player's, and a service
link (one that proved a link secret) larger ones. Params are converted into the method's typed
schema (a msgspec Struct with ``array_like=True``, so positional params map onto named
fields); a mismatch gets an error response naming the field. Anything that is not a
well-formed message closes the connection.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import CoroutineType
from typing import Any, TypeVar

import msgpack
import msgspec

from shardkit.runtime.peerlog import PeerLog, quote
from shardkit.runtime.tasks import background
from shardkit.wire.framing import MessageStream, MessageTooLarge, StreamError

log = logging.getLogger("shardkit.wire")
peer_log = PeerLog(log)
"""Lines that peers cause (their error notifications, closes, failing calls), rate-limited."""

REQUEST, RESPONSE, NOTIFY = 0, 1, 2

T = TypeVar("T")


class RpcError(Exception):
    """An error carried in a response: a stable code and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_wire(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ConnectionClosed(RpcError):
    """The peer went away before answering."""

    def __init__(self, message: str = "connection closed") -> None:
        super().__init__("closed", message)


class Identity(msgspec.Struct, frozen=True):
    """Who is on the other end of an authenticated connection."""

    role: str  # "player", or a service role such as "daemon", "characters", "world"
    name: str
    account_id: int | None = None


class Limits(msgspec.Struct, frozen=True):
    """Per-connection bounds that keep one bad peer from hurting the rest.

    ``max_message_bytes`` bounds one incoming message (its MessagePack encoding); a bigger one
    closes the connection. ``max_in_flight`` bounds the incoming requests and notifications
    being handled at once; at the bound the connection reads nothing more until one is done.
    ``max_write_buffer`` bounds our unsent output; a peer that lets more pile up is dropped.
    """

    max_message_bytes: int = 256 * 1024
    max_in_flight: int = 32
    max_write_buffer: int = 4 * 1024 * 1024
    auth_timeout_s: float = 10.0
    call_timeout_s: float = 15.0


ANONYMOUS_LIMITS = Limits(max_message_bytes=4 * 1024, max_in_flight=4)
"""Bounds of an accepted connection until it authenticates (a login needs a few small calls)."""

PLAYER_LIMITS = Limits(max_message_bytes=8 * 1024, max_in_flight=32)
"""Bounds of an accepted connection once a player (or game master) has logged in on it."""

SERVICE_LIMITS = Limits(
    max_message_bytes=256 * 1024,
    max_in_flight=8192,
    max_write_buffer=256 * 1024 * 1024,
    call_timeout_s=30.0,
)
"""Bounds for a connection once it has proven a link secret: it carries many players' traffic."""

DIALLED_LIMITS = Limits()
"""Bounds of a connection we opened (``connect``): what we accept from the server we chose."""

READ_CHUNK = 64 * 1024
"""Bytes read from the socket at a time."""

MESSAGES_PER_TURN = 64
"""Messages one connection handles before it lets the event loop run others."""

MAX_PEER_ERROR_CODE = 64
MAX_PEER_ERROR_MESSAGE = 1024
"""An error a peer sends (response or notification) is cut to these lengths where it arrives."""


@dataclass(frozen=True)
class MethodSpec:
    """What the wire knows about one method: its name, params schema and who may call it."""

    name: str
    params: type | None
    roles: frozenset[str] | None  # None: callable before authentication
    doc: str


_RPC_ATTR = "__shardkit_rpc__"


def rpc(
    name: str | None = None,
    params: type | None = None,
    *,
    roles: Iterable[str] | None = ("player",),
    public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a service method as callable over the wire.

    ``public=True`` makes it callable before authentication (handshake methods);
    otherwise the caller's ``Identity.role`` must be in ``roles``.
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (inspect.getdoc(fn) or "").split("\n", 1)[0]
        spec = MethodSpec(
            name or fn.__name__,
            params,
            None if public else frozenset(roles or ()),
            doc,
        )
        setattr(fn, _RPC_ATTR, spec)
        return fn

    return mark


def methods_of(cls: type) -> list[MethodSpec]:
    """The wire methods a service class declares, without instantiating it."""
    specs = []
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            spec = getattr(attr, _RPC_ATTR, None)
            if spec is not None:
                specs.append(spec)
    return sorted({s.name: s for s in specs}.values(), key=lambda s: s.name)


Handler = Callable[..., Any]


class Router:
    """Maps method names to bound handlers and their schemas."""

    def __init__(self) -> None:
        self._methods: dict[str, tuple[MethodSpec, Handler]] = {}

    @classmethod
    def for_services(cls, *services: object) -> Router:
        router = cls()
        for service in services:
            router.add_service(service)
        return router

    def add_service(self, service: object) -> None:
        for klass in type(service).__mro__:
            for attr_name, attr in vars(klass).items():
                spec = getattr(attr, _RPC_ATTR, None)
                if spec is not None and spec.name not in self._methods:
                    self._methods[spec.name] = (spec, getattr(service, attr_name))

    def names(self) -> list[str]:
        return sorted(self._methods)

    def lookup(self, name: str) -> tuple[MethodSpec, Handler] | None:
        return self._methods.get(name)


_PATH_INDEX = re.compile(r"`\$\[(\d+)\]")


def _name_fields(message: str, schema: type) -> str:
    """Replace msgspec's positional paths (`$[1]`) with the schema's field names."""
    fields = getattr(schema, "__struct_fields__", ())

    def swap(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"`{fields[index]}" if index < len(fields) else match.group(0)

    return _PATH_INDEX.sub(swap, message)


_NATIVE_TYPES = (bytes, bytearray)
"""Types MessagePack carries natively (``bin``): msgspec must not make them from a str."""


def convert_params(params: Any, schema: type[T]) -> T:
    """Convert wire params into a method's schema, or raise a ``bad_params`` RpcError.

    Types are strict: an int is accepted for a float, nothing else is coerced. In particular a
    ``bytes`` field takes only MessagePack ``bin``; a str there (msgspec would decode base64)
    is refused, so a client that sends hex or base64 text learns it at once.
    """
    try:
        return msgspec.convert(params, schema, builtin_types=_NATIVE_TYPES)
    except msgspec.ValidationError as exc:
        raise RpcError("bad_params", _name_fields(str(exc), schema)) from None


def params_of(struct: Any) -> list[Any]:
    """A schema struct's fields in order, as positional MessagePack-RPC params."""
    return [getattr(struct, name) for name in struct.__struct_fields__]


_encoder = msgspec.msgpack.Encoder()


def encode_notification(method: str, *params: Any) -> bytes:
    """Pre-encode a notification once, to send the same bytes to many peers."""
    return _encoder.encode((NOTIFY, method, params))


class RpcConnection:
    """One MessagePack-RPC connection; either side may call or notify the other.

    ``limits`` bound what the peer may send once the connection is authenticated (it has an
    ``identity``); ``anonymous_limits``, when given (a server's accepted connections), bound it
    until then. ``trust_as_service`` lifts them to ``SERVICE_LIMITS``.

    Guarantees: an incoming message is never decoded unless whole and within
    ``limits.max_message_bytes``; at most ``limits.max_in_flight`` incoming requests and
    notifications are being handled at once, and while that many are, nothing more is read
    from the socket (what waits in the process is at most one read of ``READ_CHUNK`` bytes,
    undecoded, and the stream's buffer of twice that); at most ``MESSAGES_PER_TURN``
    messages are handled before other tasks get the event loop. Responses to our own calls are
    read as they come, except behind a request or notification that waits for room: a handler
    that calls back its own peer on the same connection keeps its slot while it waits, so if
    every slot is so held, those calls end by their timeout.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        router: Router | None = None,
        *,
        limits: Limits | None = None,
        anonymous_limits: Limits | None = None,
        label: str = "",
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.router = router or Router()
        self._limits = limits or DIALLED_LIMITS
        self._anonymous_limits = anonymous_limits
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer_ip: str = str(peer[0])
        self.peer = peer
        self.label = label or f"{peer[0]}:{peer[1]}"
        self.identity: Identity | None = None
        self.is_service = False  # proved a link secret (either end of a service link)
        self.state: dict[str, Any] = {}  # per-connection handshake state of services
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._next_msgid = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()  # incoming work being handled
        self._room: asyncio.Future[None] | None = None  # the read loop waits here at the bound
        self._corked: list[bytes] | None = None  # output held while a batch is handled
        self._on_close: list[Callable[[RpcConnection], Any]] = []
        self._serve_task: asyncio.Task[None] | None = None

    @property
    def limits(self) -> Limits:
        """The bounds in force now (smaller ones until an accepted connection authenticates)."""
        if self.identity is None and self._anonymous_limits is not None:
            return self._anonymous_limits
        return self._limits

    @property
    def in_flight(self) -> int:
        """Incoming requests and notifications being handled right now."""
        return len(self._tasks)

    def trust_as_service(self) -> None:
        """Lift the per-connection bounds to those of a service link (after its handshake)."""
        self._limits = SERVICE_LIMITS
        self._anonymous_limits = None
        self.is_service = True

    # ----------------------------------------------------------------- outgoing

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Send a request and wait for its result; an error response raises RpcError."""
        if self.closed.is_set():
            raise ConnectionClosed(self.close_reason or "connection closed")
        msgid = next(self._next_msgid) & 0xFFFFFFFF
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msgid] = future
        try:
            self._write(_encoder.encode((REQUEST, msgid, method, params)))
            return await asyncio.wait_for(future, timeout or self.limits.call_timeout_s)
        except TimeoutError:
            raise RpcError("timeout", f"{method} got no answer from {self.label}") from None
        finally:
            self._pending.pop(msgid, None)

    async def call_as(self, result_type: type[T], method: str, *params: Any) -> T:
        """Call and convert the result into a typed schema."""
        result = await self.call(method, *params)
        return msgspec.convert(result, result_type)

    def notify(self, method: str, *params: Any) -> None:
        self._write(_encoder.encode((NOTIFY, method, params)))

    def send_encoded(self, data: bytes) -> None:
        """Send bytes made by ``encode_notification`` (encoded once for many peers)."""
        self._write(data)

    def _write(self, data: bytes) -> None:
        """Send ``data`` (once the batch of messages being handled is done, if one is)."""
        if self.closed.is_set():
            return
        if self._corked is not None:
            self._corked.append(data)
        else:
            self._send(data)

    def _uncork(self) -> None:
        """Send what was written while a batch of incoming messages was handled, in one go."""
        corked, self._corked = self._corked, None
        if corked:
            self._send(corked[0] if len(corked) == 1 else b"".join(corked))

    def _send(self, data: bytes) -> None:
        """Write to the transport, or close the connection quietly if it is gone or full.

        A peer that reset the connection closes the transport before the read loop notices;
        writing then must not raise into whoever wrote (uvloop raises ``RuntimeError``).
        """
        transport = self.writer.transport
        try:
            if transport.is_closing():
                self.close("connection lost")
            elif transport.get_write_buffer_size() > self.limits.max_write_buffer:
                self.close("slow consumer: write buffer full")
            else:
                transport.write(data)
        except (RuntimeError, OSError) as exc:
            self.close(f"connection lost: {exc.__class__.__name__}")

    # ----------------------------------------------------------------- incoming

    def start(self) -> asyncio.Task[None]:
        """Run the read loop in the background (client side)."""
        if self._serve_task is None:
            self._serve_task = asyncio.create_task(self.serve(), name=f"rpc {self.label}")
        return self._serve_task

    async def serve(self) -> None:
        """Read and dispatch messages until the peer closes or misbehaves."""
        largest = max(
            self.limits.max_message_bytes,
            self._limits.max_message_bytes,
            SERVICE_LIMITS.max_message_bytes,
        )
        stream = MessageStream(capacity=largest + READ_CHUNK)
        try:
            while not self.closed.is_set():
                data = await self.reader.read(READ_CHUNK)
                if not data:
                    self.close("peer closed the connection")
                    break
                try:
                    stream.feed(data, self.limits.max_message_bytes)
                except MessageTooLarge:
                    self._fatal("too_large", "message larger than the limit")
                    break
                except StreamError as exc:
                    self._fatal("protocol", f"not MessagePack-RPC: {exc}")
                    break
                if not await self._handle_messages(stream):
                    break
        except (ConnectionError, OSError) as exc:
            self.close(f"connection error: {exc}")
        except asyncio.CancelledError:
            self.close("cancelled")
            raise
        finally:
            self.close(self.close_reason or "read loop ended")

    async def _handle_messages(self, stream: MessageStream) -> bool:
        """Dispatch every whole message received; False once the connection is closed.

        Before each request or notification it waits while the connection's work in flight is
        at its bound (it reads nothing meanwhile), and every ``MESSAGES_PER_TURN`` messages it
        lets the event loop run other connections.
        """
        budget = MESSAGES_PER_TURN
        room = self.limits.max_in_flight
        self._corked = []  # the answers to a batch leave in one write, before each pause
        try:
            for message in stream:
                if len(self._tasks) >= room and message.__class__ is list and message[:1] != [1]:
                    self._uncork()
                    await self._wait_for_room()
                    if self.closed.is_set():
                        return False
                    room = self.limits.max_in_flight
                    self._corked = []
                self._dispatch(message)
                if self.closed.is_set():
                    return False
                budget -= 1
                if not budget:
                    budget = MESSAGES_PER_TURN
                    self._uncork()
                    await asyncio.sleep(0)
                    if self.closed.is_set():
                        return False
                    self._corked = []
        except (ValueError, msgpack.UnpackException, TypeError) as exc:
            self._fatal("protocol", f"not MessagePack-RPC: {exc.__class__.__name__}")
            return False
        finally:
            self._uncork()
        return True

    async def _wait_for_room(self) -> None:
        """Wait until the work in flight is under the bound (or the connection closes)."""
        while not self.closed.is_set() and len(self._tasks) >= self.limits.max_in_flight:
            self._room = asyncio.get_running_loop().create_future()
            await self._room

    def _fatal(self, code: str, message: str) -> None:
        """Tell the peer why (after what it was already answered), and close."""
        peer_log.info(self.peer_ip, "closed", "closing %s: %s", self.label, message)
        if not self.closed.is_set():
            self._corked = [*(self._corked or ()), encode_notification(
                "error", {"code": code, "message": message})]
        self.close(message)

    def _dispatch(self, message: Any) -> None:
        if message.__class__ is not list or not message or message[0] not in (0, 1, 2):
            self._fatal("protocol", "expected a MessagePack-RPC array")
            return
        kind = message[0]
        if kind == REQUEST and len(message) == 4 and message[2].__class__ is str:
            _, msgid, method, params = message
            if msgid.__class__ is not int or params.__class__ is not list:
                self._fatal("protocol", "request needs an integer msgid and array params")
                return
            self._handle_request(msgid, method, params)
        elif kind == NOTIFY and len(message) == 3 and message[1].__class__ is str:
            _, method, params = message
            if params.__class__ is not list:
                self._fatal("protocol", "notification needs array params")
                return
            self._handle_notification(method, params)
        elif kind == RESPONSE and len(message) == 4:
            _, msgid, error, result = message
            future = self._pending.get(msgid) if msgid.__class__ is int else None
            if future is not None and not future.done():
                if error is not None:
                    future.set_exception(_peer_error(error))
                else:
                    future.set_result(result)
        else:
            self._fatal("protocol", "malformed MessagePack-RPC message")

    def _resolve(self, method: str, params: list[Any]) -> tuple[Handler, Any]:
        found = self.router.lookup(method)
        if found is None:
            raise RpcError("no_such_method", f"unknown method {quote(method, 64)}")
        spec, handler = found
        if spec.roles is not None:
            if self.identity is None:
                raise RpcError("auth_required", f"'{method}' needs an authenticated connection")
            if self.identity.role not in spec.roles:
                raise RpcError("forbidden", f"'{method}' is not for role '{self.identity.role}'")
        if spec.params is None:
            if params:
                raise RpcError("bad_params", f"'{method}' takes no params")
            return handler, None
        return handler, convert_params(params, spec.params)

    def _handle_notification(self, method: str, params: list[Any]) -> None:
        if method == "error" and self.router.lookup("error") is None:
            self._log_peer_error(params)
            return  # never answer an error with an error: two peers would ping-pong forever
        try:
            handler, args = self._resolve(method, params)
        except RpcError as exc:
            if exc.code in ("auth_required", "forbidden"):
                self._fatal(exc.code, exc.message)
            else:
                self.notify("error", exc.to_wire())
            return
        try:
            result = handler(self) if args is None else handler(self, args)
        except RpcError as exc:  # the peer's mistake, answered as the async path answers it
            self.notify("error", exc.to_wire())
            return
        except Exception as exc:
            self._log_failure("notification", method, exc)
            return
        if _needs_await(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._notification_done, method))

    def _log_peer_error(self, params: list[Any]) -> None:
        """An ``error`` notification: a service's is a WARNING, a player's only DEBUG."""
        error = _peer_error(params[0] if params else None)
        level = logging.WARNING if self.is_service else logging.DEBUG
        peer_log.log(
            level, self.peer_ip, "error notification", "%s reports an error: %s: %s",
            self.label, quote(error.code, MAX_PEER_ERROR_CODE), quote(error.message),
        )

    def _notification_done(self, method: str, task: asyncio.Future[Any]) -> None:
        self._work_done(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, RpcError):
            self.notify("error", exc.to_wire())
        elif exc is not None:
            self._log_failure("notification", method, exc)

    def _log_failure(self, kind: str, method: str, exc: BaseException | bool = True) -> None:
        """A handler failed unexpectedly: a traceback, rate-limited per peer and method."""
        peer_log.log(
            logging.ERROR, self.peer_ip, f"failed {method}", "%s %s from %s failed",
            kind, method, self.label, exc_info=exc,
        )

    def _handle_request(self, msgid: int, method: str, params: list[Any]) -> None:
        """Answer a request at once if its handler is synchronous (or it is refused); a
        handler's awaitable is awaited in a task, which counts as work in flight."""
        try:
            handler, args = self._resolve(method, params)
            del params  # the raw params are not kept while the handler runs
            result = handler(self) if args is None else handler(self, args)
        except RpcError as exc:
            self._respond(msgid, exc, None)
            return
        except Exception as exc:
            self._request_failed(msgid, method, exc)
            return
        if _needs_await(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._request_done, msgid, method))
        else:
            self._respond(msgid, None, result)

    def _request_done(self, msgid: int, method: str, task: asyncio.Future[Any]) -> None:
        self._work_done(task)
        if task.cancelled():  # the connection closed (or the handler gave up): no answer
            return
        exc = task.exception()
        if exc is None:
            self._respond(msgid, None, task.result())
        elif isinstance(exc, RpcError):
            self._respond(msgid, exc, None)
        else:
            self._request_failed(msgid, method, exc)

    def _request_failed(self, msgid: int, method: str, exc: BaseException) -> None:
        self._log_failure("request", method, exc)
        self._respond(msgid, RpcError("internal", f"'{method}' failed on the server"), None)

    def _respond(self, msgid: int, error: RpcError | None, result: Any) -> None:
        try:
            data = _encoder.encode((RESPONSE, msgid, error.to_wire() if error else None, result))
        except (TypeError, msgspec.EncodeError):
            log.exception("cannot encode the result of a request from %s", self.label)
            data = _encoder.encode(
                (RESPONSE, msgid, RpcError("internal", "unencodable result").to_wire(), None)
            )
        self._write(data)

    def _work_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    # ------------------------------------------------------------------ closing

    def on_close(self, callback: Callable[[RpcConnection], Any]) -> None:
        """Run ``callback(conn)`` once when the connection closes (may return a coroutine)."""
        if self.closed.is_set():
            self._run_close_callback(callback)
        else:
            self._on_close.append(callback)

    def _run_close_callback(self, callback: Callable[[RpcConnection], Any]) -> None:
        try:
            result = callback(self)
            if inspect.isawaitable(result):
                background(result)
        except Exception:
            log.exception("close callback of %s failed", self.label)

    def close(self, reason: str = "closed") -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionClosed(reason))
        self._pending.clear()
        corked, self._corked = self._corked, None
        try:
            if corked:  # answers and a last error notification still held by the read loop
                self.writer.write(b"".join(corked))
            self.writer.close()
        except Exception:
            pass
        for task in list(self._tasks):
            task.cancel()
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        reader_task = self._serve_task
        if reader_task is not None and reader_task is not asyncio.current_task():
            reader_task.cancel()  # a client's read loop ends with its connection
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            self._run_close_callback(callback)

    async def wait_closed(self) -> None:
        await self.closed.wait()


def _needs_await(value: Any) -> bool:
    """Whether a handler's result is to be awaited (``inspect.isawaitable``, None first)."""
    return value is not None and (value.__class__ is CoroutineType or inspect.isawaitable(value))


def _peer_error(error: Any) -> RpcError:
    """An error a peer sent, as an RpcError whose code and message are cut to a bounded size."""
    if isinstance(error, dict):
        code, text = error.get("code", "error"), error.get("message", "")
    else:
        code, text = "error", error
    code = code if isinstance(code, str) else quote(code, MAX_PEER_ERROR_CODE)
    text = text if isinstance(text, str) else quote(text, MAX_PEER_ERROR_MESSAGE)
    return RpcError(code[:MAX_PEER_ERROR_CODE], text[:MAX_PEER_ERROR_MESSAGE])


@dataclass
class RpcServer:
    """A listening port whose connections share one router."""

    server: asyncio.Server
    connections: set[RpcConnection] = field(default_factory=set)

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for conn in list(self.connections):
            conn.close("server shutting down")
        await self.server.wait_closed()


LISTEN_BACKLOG = 4096
"""Connections the kernel may queue for ``accept`` per port (a crowd logging in at once)."""


def listen_backlog(wanted: int = LISTEN_BACKLOG) -> int:
    """``wanted``, capped by the kernel's own cap (``net.core.somaxconn``) where it can be read."""
    try:
        with open("/proc/sys/net/core/somaxconn") as cap_file:
            cap = int(cap_file.read().strip())
    except (OSError, ValueError):
        return wanted
    return max(1, min(wanted, cap))


async def serve(
    host: str,
    port: int,
    router: Router,
    *,
    limits: Limits | None = None,
    anonymous_limits: Limits | None = None,
    on_connect: Callable[[RpcConnection], Any] | None = None,
    ssl: Any = None,
    require_auth: bool = True,
) -> RpcServer:
    """Listen on host:port; each connection is an RpcConnection dispatching into ``router``.

    A connection is bounded by ``anonymous_limits`` (default ``ANONYMOUS_LIMITS``) until it
    authenticates and by ``limits`` (default ``PLAYER_LIMITS``) after; a service handshake
    lifts both to ``SERVICE_LIMITS``. With ``require_auth`` a connection that has not
    authenticated within ``anonymous_limits.auth_timeout_s`` is closed.
    """
    limits = limits or PLAYER_LIMITS
    anonymous_limits = anonymous_limits or ANONYMOUS_LIMITS
    holder: list[RpcServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = RpcConnection(
            reader, writer, router, limits=limits, anonymous_limits=anonymous_limits
        )
        rpc_server = holder[0]
        rpc_server.connections.add(conn)
        conn.on_close(rpc_server.connections.discard)
        watchdog = None
        if require_auth:
            watchdog = asyncio.get_running_loop().call_later(
                anonymous_limits.auth_timeout_s, _close_if_anonymous, conn
            )
        try:
            if on_connect is not None:
                result = on_connect(conn)
                if inspect.isawaitable(result):
                    await result
            await conn.serve()
        finally:
            if watchdog is not None:
                watchdog.cancel()

    # ``limit`` is the StreamReader's buffer: past twice that it stops reading the socket,
    # so a connection whose read loop waits (work in flight at its bound) holds little.
    server = await asyncio.start_server(
        handle, host, port, ssl=ssl, limit=READ_CHUNK, backlog=listen_backlog()
    )
    holder.append(RpcServer(server))
    return holder[0]


def _close_if_anonymous(conn: RpcConnection) -> None:
    if conn.identity is None:
        conn._fatal("auth_timeout", "no authentication in time")


async def connect(
    host: str,
    port: int,
    router: Router | None = None,
    *,
    limits: Limits | None = None,
    ssl: Any = None,
    timeout: float = 5.0,
    local_addr: tuple[str, int] | None = None,
) -> RpcConnection:
    """Open a connection and start its read loop (bounded by ``limits``, default ``DIALLED_LIMITS``)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl, local_addr=local_addr, limit=READ_CHUNK),
        timeout,
    )
    conn = RpcConnection(reader, writer, router, limits=limits)
    conn.start()
    return conn
