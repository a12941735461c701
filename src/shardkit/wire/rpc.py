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

This module is the wire's public face; its parts are:

- ``wire/messages.py``: message kinds, encoding, ``RpcError``;
- ``wire/methods.py``: ``@rpc``, ``MethodSpec``, ``Router``, ``Identity``, typed params;
- ``wire/limits.py``: ``Limits`` and the bounds of anonymous, player and service connections;
- ``wire/connection.py`` and ``wire/incoming.py``: ``RpcConnection``, its read loop, and what
  it does with each incoming message;
- ``wire/serving.py``: ``serve`` (listen) and ``connect`` (dial).
"""

from __future__ import annotations

from shardkit.wire.connection import RpcConnection
from shardkit.wire.incoming import log, peer_log
from shardkit.wire.limits import (
    ANONYMOUS_LIMITS,
    DIALLED_LIMITS,
    MESSAGES_PER_TURN,
    PLAYER_LIMITS,
    READ_CHUNK,
    SERVICE_LIMITS,
    Limits,
)
from shardkit.wire.messages import (
    MAX_PEER_ERROR_CODE,
    MAX_PEER_ERROR_MESSAGE,
    NOTIFY,
    REQUEST,
    RESPONSE,
    ConnectionClosed,
    RpcError,
    encode_notification,
)
from shardkit.wire.messages import encoder as _encoder
from shardkit.wire.methods import (
    Handler,
    Identity,
    MethodSpec,
    Router,
    convert_params,
    methods_of,
    params_of,
    rpc,
)
from shardkit.wire.serving import LISTEN_BACKLOG, RpcServer, connect, listen_backlog, serve

__all__ = [
    "ANONYMOUS_LIMITS",
    "DIALLED_LIMITS",
    "LISTEN_BACKLOG",
    "MAX_PEER_ERROR_CODE",
    "MAX_PEER_ERROR_MESSAGE",
    "MESSAGES_PER_TURN",
    "NOTIFY",
    "PLAYER_LIMITS",
    "READ_CHUNK",
    "REQUEST",
    "RESPONSE",
    "SERVICE_LIMITS",
    "ConnectionClosed",
    "Handler",
    "Identity",
    "Limits",
    "MethodSpec",
    "Router",
    "RpcConnection",
    "RpcError",
    "RpcServer",
    "_encoder",
    "connect",
    "convert_params",
    "encode_notification",
    "listen_backlog",
    "log",
    "methods_of",
    "params_of",
    "peer_log",
    "rpc",
    "serve",
]
