"""What a connection does with each incoming message: requests, notifications, responses.

:class:`IncomingMessages` is the part of :class:`~shardkit.wire.connection.RpcConnection` that
handles one decoded message: it checks the message's shape, resolves the method (its role and
params), runs the handler, answers (a synchronous handler's request at once, an awaitable's
when it is done, which counts as work in flight meanwhile) and turns failures into error
answers. What a peer causes in the log (its error reports, failing handlers, why it was
closed) goes through one rate-limited :class:`~shardkit.runtime.peerlog.PeerLog`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Coroutine
from types import CoroutineType
from typing import Any

import msgspec

from shardkit.runtime.peerlog import PeerLog, quote
from shardkit.wire.goodbye import SHUTTING_DOWN
from shardkit.wire.messages import (
    MAX_PEER_ERROR_CODE,
    NOTIFY,
    REQUEST,
    RESPONSE,
    RpcError,
    encode_notification,
    encoder,
    peer_error,
)
from shardkit.wire.methods import Handler, Identity, Router, convert_params

__all__ = ["IncomingMessages", "log", "peer_log"]

log = logging.getLogger("shardkit.wire")
peer_log = PeerLog(log)
"""Lines that peers cause (their error notifications, closes, failing calls), rate-limited."""


class IncomingMessages:
    """Handling of incoming messages, for the connection class that provides the rest."""

    router: Router
    identity: Identity | None
    is_service: bool
    peer_stopping: bool  # the peer said it is stopping on purpose (``wire/goodbye.py``)
    label: str
    peer_ip: str
    closed: asyncio.Event
    _pending: dict[int, asyncio.Future[Any]]  # our calls waiting for their response
    _tasks: set[asyncio.Future[Any]]  # incoming work being handled
    _room: asyncio.Future[None] | None  # the read loop waits here at the bound
    _corked: list[bytes] | None  # output held while a batch is handled

    def notify(self, method: str, *params: Any) -> None:
        raise NotImplementedError

    def close(self, reason: str = "closed") -> None:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

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
                    future.set_exception(peer_error(error))
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
            self._logpeer_error(params)
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

    def _logpeer_error(self, params: list[Any]) -> None:
        """An ``error`` notification: a service's is a WARNING, a player's only DEBUG."""
        error = peer_error(params[0] if params else None)
        if error.code == SHUTTING_DOWN and self.is_service:  # a planned stop, not a fault
            self.peer_stopping = True
            peer_log.log(logging.INFO, self.peer_ip, "goodbye", "%s is stopping: %s",
                         self.label, quote(error.message))
            return
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
            task = asyncio.ensure_future(self._finish_request(msgid, method, result))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._request_done, result))
        else:
            self._respond(msgid, None, result)

    async def _finish_request(self, msgid: int, method: str, pending: Awaitable[Any]) -> None:
        """Await a handler and answer in the same step, before anything it scheduled runs
        (``close_after_reply`` closes the connection once the reply is written)."""
        try:
            result = await pending
        except RpcError as exc:
            self._respond(msgid, exc, None)
            return
        except Exception as exc:
            self._request_failed(msgid, method, exc)
            return
        self._respond(msgid, None, result)

    def _request_done(self, pending: Awaitable[Any], task: asyncio.Future[Any]) -> None:
        self._work_done(task)
        if task.cancelled() and isinstance(pending, Coroutine):
            pending.close()  # cancelled before it started: it is not "never awaited"

    def _request_failed(self, msgid: int, method: str, exc: BaseException) -> None:
        self._log_failure("request", method, exc)
        self._respond(msgid, RpcError("internal", f"'{method}' failed on the server"), None)

    def _respond(self, msgid: int, error: RpcError | None, result: Any) -> None:
        try:
            data = encoder.encode((RESPONSE, msgid, error.to_wire() if error else None, result))
        except (TypeError, msgspec.EncodeError):
            log.exception("cannot encode the result of a request from %s", self.label)
            data = encoder.encode(
                (RESPONSE, msgid, RpcError("internal", "unencodable result").to_wire(), None)
            )
        self._write(data)

    def _work_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)


def _needs_await(value: Any) -> bool:
    """Whether a handler's result is to be awaited (``inspect.isawaitable``, None first)."""
    return value is not None and (value.__class__ is CoroutineType or inspect.isawaitable(value))
