"""The MessagePack-RPC messages: their kinds, how they are encoded, and the errors they carry."""

from __future__ import annotations

from typing import Any

import msgspec

from shardkit.runtime.peerlog import quote

__all__ = [
    "MAX_PEER_ERROR_CODE",
    "MAX_PEER_ERROR_MESSAGE",
    "NOTIFY",
    "REQUEST",
    "RESPONSE",
    "ConnectionClosed",
    "RpcError",
    "encode_notification",
    "encoder",
    "peer_error",
]

REQUEST, RESPONSE, NOTIFY = 0, 1, 2
"""The first element of each message: ``[0, msgid, method, params]``, ``[1, msgid, error,
result]``, ``[2, method, params]``."""

MAX_PEER_ERROR_CODE = 64
MAX_PEER_ERROR_MESSAGE = 1024
"""An error a peer sends (response or notification) is cut to these lengths where it arrives."""

encoder = msgspec.msgpack.Encoder()
"""The one encoder of outgoing messages."""


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



def encode_notification(method: str, *params: Any) -> bytes:
    """Pre-encode a notification once, to send the same bytes to many peers."""
    return encoder.encode((NOTIFY, method, params))


def peer_error(error: Any) -> RpcError:
    """An error a peer sent, as an RpcError whose code and message are cut to a bounded size."""
    if isinstance(error, dict):
        code, text = error.get("code", "error"), error.get("message", "")
    else:
        code, text = "error", error
    code = code if isinstance(code, str) else quote(code, MAX_PEER_ERROR_CODE)
    text = text if isinstance(text, str) else quote(text, MAX_PEER_ERROR_MESSAGE)
    return RpcError(code[:MAX_PEER_ERROR_CODE], text[:MAX_PEER_ERROR_MESSAGE])
