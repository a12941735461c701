"""One MessagePack-RPC connection: calls and notifications both ways, its read loop and bounds.

Each incoming object is bounded in size while it arrives and is decoded only once it is
whole (``wire/framing.py``), so what it decodes into is bounded too. A connection's
unanswered work (requests, and notifications whose handler is still running) is bounded by
reading less: at the bound the connection stops reading, and TCP makes the peer wait. What
each message does is :class:`~shardkit.wire.incoming.IncomingMessages`' part.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

import msgpack
import msgspec

from shardkit.runtime.tasks import background
from shardkit.wire.framing import MessageStream, MessageTooLarge, StreamError
from shardkit.wire.incoming import IncomingMessages, log
from shardkit.wire.limits import (
    DIALLED_LIMITS,
    READ_CHUNK,
    SERVICE_LIMITS,
    Limits,
)
from shardkit.wire.messages import NOTIFY, REQUEST, ConnectionClosed, RpcError, encoder
from shardkit.wire.methods import Identity, Router

__all__ = ["RpcConnection"]

T = TypeVar("T")


class RpcConnection(IncomingMessages):
    """One MessagePack-RPC connection; either side may call or notify the other.

    ``limits`` bound what the peer may send once the connection is authenticated (it has an
    ``identity``); ``anonymous_limits``, when given (a server's accepted connections), bound it
    until then. ``trust_as_service`` lifts them to ``SERVICE_LIMITS``.

    Guarantees: an incoming message is never decoded unless whole and within
    ``limits.max_message_bytes``; at most ``limits.max_in_flight`` incoming requests and
    notifications are being handled at once, and while that many are, nothing more is read
    from the socket (what waits in the process is at most one read of ``READ_CHUNK`` bytes,
    undecoded, and the stream's buffer of twice that); at most ``limits.messages_per_turn``
    messages are handled before other tasks get the event loop. Responses to our own calls are
    read as they come, except behind a request or notification that waits for room: a handler
    that calls back its own peer on the same connection keeps its slot while it waits, so if
    every slot is so held, those calls end by their timeout. What the read loop writes while
    it handles a batch of messages (their answers) leaves in one write when it pauses.
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
        self.peer_stopping = False  # the peer said goodbye: its close is planned
        self.said_goodbye = False  # we did: we are stopping on purpose
        self.state: dict[str, Any] = {}  # per-connection handshake state of services
        self.session: object = None  # the owning component's session object (wire/peers.py)
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
            self._write(encoder.encode((REQUEST, msgid, method, params)))
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
        self._write(encoder.encode((NOTIFY, method, params)))

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
        at its bound (it reads nothing meanwhile), and every ``limits.messages_per_turn``
        messages it lets the event loop run other connections.
        """
        budget = self.limits.messages_per_turn
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
                    budget = self.limits.messages_per_turn
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
