"""MessagePack-RPC peer over an asyncio stream: requests, responses and notifications both ways.

Frames are the published MessagePack-RPC messages written back to back on the stream,
with no extra framing:

    request       [0, msgid, method, params]
    response      [1, msgid, error, result]
    notification  [2, method, params]

Each incoming object is bounded in size (and, by msgpack's unpacker, in nesting) while
it is unpacked. Params are converted into the method's typed schema (a msgspec Struct
with ``array_like=True``, so positional params map onto named fields); a mismatch gets
an error response naming the field. Anything that is not a well-formed message closes
the connection.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgpack
import msgspec

from shardkit.runtime.tasks import background

log = logging.getLogger("shardkit.wire")

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
    """Per-connection bounds that keep one bad peer from hurting the rest."""

    max_message_bytes: int = 256 * 1024
    max_concurrent_requests: int = 32
    max_write_buffer: int = 4 * 1024 * 1024
    auth_timeout_s: float = 10.0
    call_timeout_s: float = 15.0


SERVICE_LIMITS = Limits(
    max_concurrent_requests=8192, max_write_buffer=256 * 1024 * 1024, call_timeout_s=30.0
)
"""Bounds for a connection once it has proven a link secret: it carries many players' traffic."""


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


def convert_params(params: Any, schema: type[T]) -> T:
    """Convert wire params into a method's schema, or raise a ``bad_params`` RpcError."""
    try:
        return msgspec.convert(params, schema)
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
    """One MessagePack-RPC connection; either side may call or notify the other."""

    _ids = itertools.count(1)

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        router: Router | None = None,
        *,
        limits: Limits | None = None,
        label: str = "",
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.router = router or Router()
        self.limits = limits or Limits()
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer_ip: str = str(peer[0])
        self.peer = peer
        self.label = label or f"{peer[0]}:{peer[1]}"
        self.identity: Identity | None = None
        self.state: dict[str, Any] = {}  # per-connection handshake state of services
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._next_msgid = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._request_slots = asyncio.Semaphore(self.limits.max_concurrent_requests)
        self._on_close: list[Callable[[RpcConnection], Any]] = []
        self._serve_task: asyncio.Task[None] | None = None

    def trust_as_service(self) -> None:
        """Lift the per-connection bounds to those of a service link (after its handshake)."""
        self.limits = msgspec.structs.replace(
            SERVICE_LIMITS, max_message_bytes=self.limits.max_message_bytes
        )
        self._request_slots = asyncio.Semaphore(self.limits.max_concurrent_requests)

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
        if self.closed.is_set():
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > self.limits.max_write_buffer:
            self.close("slow consumer: write buffer full")
            return
        self.writer.write(data)

    # ----------------------------------------------------------------- incoming

    def start(self) -> asyncio.Task[None]:
        """Run the read loop in the background (client side)."""
        if self._serve_task is None:
            self._serve_task = asyncio.create_task(self.serve(), name=f"rpc {self.label}")
        return self._serve_task

    async def serve(self) -> None:
        """Read and dispatch messages until the peer closes or misbehaves."""
        unpacker = msgpack.Unpacker(
            raw=False,
            max_buffer_size=self.limits.max_message_bytes,
            strict_map_key=True,
        )
        chunk = min(65536, self.limits.max_message_bytes)
        try:
            while not self.closed.is_set():
                data = await self.reader.read(chunk)
                if not data:
                    self.close("peer closed the connection")
                    break
                try:
                    unpacker.feed(data)
                except msgpack.BufferFull:
                    self._fatal("too_large", "message larger than the limit")
                    break
                try:
                    for message in unpacker:
                        self._dispatch(message)
                        if self.closed.is_set():
                            break
                except (ValueError, msgpack.UnpackException, TypeError) as exc:
                    self._fatal("protocol", f"not MessagePack-RPC: {exc.__class__.__name__}")
                    break
        except (ConnectionError, OSError) as exc:
            self.close(f"connection error: {exc}")
        except asyncio.CancelledError:
            self.close("cancelled")
            raise
        finally:
            self.close(self.close_reason or "read loop ended")

    def _fatal(self, code: str, message: str) -> None:
        log.info("closing %s: %s", self.label, message)
        try:
            self.writer.write(encode_notification("error", {"code": code, "message": message}))
        except Exception:
            pass
        self.close(message)

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, list) or not message or message[0] not in (0, 1, 2):
            self._fatal("protocol", "expected a MessagePack-RPC array")
            return
        kind = message[0]
        if kind == REQUEST and len(message) == 4 and isinstance(message[2], str):
            _, msgid, method, params = message
            if not isinstance(msgid, int) or not isinstance(params, list):
                self._fatal("protocol", "request needs an integer msgid and array params")
                return
            self._start_request(msgid, method, params)
        elif kind == NOTIFY and len(message) == 3 and isinstance(message[1], str):
            _, method, params = message
            if not isinstance(params, list):
                self._fatal("protocol", "notification needs array params")
                return
            self._handle_notification(method, params)
        elif kind == RESPONSE and len(message) == 4:
            _, msgid, error, result = message
            future = self._pending.get(msgid) if isinstance(msgid, int) else None
            if future is not None and not future.done():
                if error is not None:
                    if isinstance(error, dict):
                        code = str(error.get("code", "error"))
                        text = str(error.get("message", ""))
                    else:
                        code, text = "error", str(error)
                    future.set_exception(RpcError(code, text))
                else:
                    future.set_result(result)
        else:
            self._fatal("protocol", "malformed MessagePack-RPC message")

    def _resolve(self, method: str, params: list[Any]) -> tuple[Handler, Any]:
        found = self.router.lookup(method)
        if found is None:
            raise RpcError("no_such_method", f"unknown method '{method}'")
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
            log.warning("%s reports an error: %s", self.label, params[:1])
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
            if inspect.isawaitable(result):
                self._spawn(self._await_quietly(method, result))
        except Exception:
            log.exception("notification %s from %s failed", method, self.label)

    async def _await_quietly(self, method: str, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except RpcError as exc:
            self.notify("error", exc.to_wire())
        except Exception:
            log.exception("notification %s from %s failed", method, self.label)

    def _start_request(self, msgid: int, method: str, params: list[Any]) -> None:
        if self._request_slots.locked():
            self._respond(msgid, RpcError("busy", "too many requests in flight"), None)
            return
        self._spawn(self._run_request(msgid, method, params))

    async def _run_request(self, msgid: int, method: str, params: list[Any]) -> None:
        async with self._request_slots:
            try:
                handler, args = self._resolve(method, params)
                result = handler(self) if args is None else handler(self, args)
                if inspect.isawaitable(result):
                    result = await result
            except RpcError as exc:
                self._respond(msgid, exc, None)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("request %s from %s failed", method, self.label)
                self._respond(msgid, RpcError("internal", f"'{method}' failed on the server"), None)
                return
            self._respond(msgid, None, result)

    def _respond(self, msgid: int, error: RpcError | None, result: Any) -> None:
        try:
            data = _encoder.encode((RESPONSE, msgid, error.to_wire() if error else None, result))
        except (TypeError, msgspec.EncodeError):
            log.exception("cannot encode the result of a request from %s", self.label)
            data = _encoder.encode(
                (RESPONSE, msgid, RpcError("internal", "unencodable result").to_wire(), None)
            )
        self._write(data)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        try:
            self.writer.close()
        except Exception:
            pass
        for task in list(self._tasks):
            task.cancel()
        reader_task = self._serve_task
        if reader_task is not None and reader_task is not asyncio.current_task():
            reader_task.cancel()  # a client's read loop ends with its connection
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            self._run_close_callback(callback)

    async def wait_closed(self) -> None:
        await self.closed.wait()


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


async def serve(
    host: str,
    port: int,
    router: Router,
    *,
    limits: Limits | None = None,
    on_connect: Callable[[RpcConnection], Any] | None = None,
    ssl: Any = None,
    require_auth: bool = True,
) -> RpcServer:
    """Listen on host:port; each connection is an RpcConnection dispatching into ``router``.

    With ``require_auth`` a connection that has not authenticated within
    ``limits.auth_timeout_s`` is closed.
    """
    limits = limits or Limits()
    holder: list[RpcServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = RpcConnection(reader, writer, router, limits=limits)
        rpc_server = holder[0]
        rpc_server.connections.add(conn)
        conn.on_close(rpc_server.connections.discard)
        watchdog = None
        if require_auth:
            watchdog = asyncio.get_running_loop().call_later(
                limits.auth_timeout_s, _close_if_anonymous, conn
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

    server = await asyncio.start_server(handle, host, port, ssl=ssl, limit=limits.max_message_bytes)
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
    """Open a connection and start its read loop."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl, local_addr=local_addr), timeout
    )
    conn = RpcConnection(reader, writer, router, limits=limits)
    conn.start()
    return conn
