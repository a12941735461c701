"""Service handshake: both ends of a link prove the link's shared secret by HMAC challenge-response.

    client -> service_hello(role, name, client_nonce)  -> {server_nonce, server_proof}
    client -> service_prove(client_proof)              -> {ok, peer}

The server proves first (so a client never talks to an impostor) and neither side ever
sends the secret. After the handshake the server's connection carries
``Identity(role, name)`` of the client, and the client's connection carries the
identity of the server (``peer_role``), so either side may call the other's methods.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc

NONCE_BYTES = 16

KeyOfName = Callable[[str], bytes | None]
"""The link secret of the client that gives this name in ``service_hello``, or None."""


class ServiceHello(msgspec.Struct, array_like=True):
    role: str
    name: str
    client_nonce: bytes


class ServiceProve(msgspec.Struct, array_like=True):
    client_proof: bytes


class HelloResult(msgspec.Struct):
    server_nonce: bytes
    server_proof: bytes
    server_name: str


def _proof(secret: bytes, side: bytes, role: str, first: bytes, second: bytes) -> bytes:
    message = b"shardkit-link|" + side + b"|" + role.encode() + b"|" + first + b"|" + second
    return hmac.new(secret, message, hashlib.sha256).digest()


def derive_key(secret: bytes, label: str) -> bytes:
    """A key for one purpose from a shared secret, so one secret never serves two jobs."""
    return hmac.new(secret, b"shardkit-derive|" + label.encode(), hashlib.sha256).digest()


def close_after_reply(conn: RpcConnection, reason: str) -> None:
    """Close the connection once the current reply has been written."""
    asyncio.get_running_loop().call_soon(conn.close, reason)


class ServiceAuth:
    """Handshake methods for a port that admits services holding a link secret.

    ``secrets`` maps each client role allowed on this port to its link secret, or to a function
    of the name the client gives that returns the secret of that name (a key bound to one
    world, say), or None if no client of that name may connect.
    ``on_authenticated(conn)`` runs after a successful handshake, before the reply.
    """

    def __init__(
        self,
        secrets: Mapping[str, bytes | KeyOfName],
        server_name: str,
        on_authenticated: Callable[[RpcConnection], Awaitable[None] | None] | None = None,
    ) -> None:
        self._secrets = dict(secrets)
        self._server_name = server_name
        self._on_authenticated = on_authenticated

    @rpc("service_hello", ServiceHello, public=True)
    def service_hello(self, conn: RpcConnection, p: ServiceHello) -> HelloResult:
        """Start a service handshake: the server proves the link secret first."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already authenticated")
        known = self._secrets.get(p.role)
        if known is None:
            close_after_reply(conn, "unknown service role")
            raise RpcError("auth_failed", f"role {quote(p.role, 40)} may not connect to this port")
        secret = known if isinstance(known, bytes) else known(p.name)
        if secret is None:
            close_after_reply(conn, "service name refused")
            raise RpcError("auth_failed", f"no {quote(p.role, 40)} named {quote(p.name, 80)}"
                                          f" may connect to {quote(self._server_name, 80)}")
        if not NONCE_BYTES <= len(p.client_nonce) <= 64:
            raise RpcError("bad_params", "`client_nonce` must be 16 to 64 bytes")
        server_nonce = os.urandom(NONCE_BYTES)
        conn.state["service_hello"] = (p.role, p.name, p.client_nonce, server_nonce, secret)
        proof = _proof(secret, b"server", p.role, p.client_nonce, server_nonce)
        return HelloResult(server_nonce, proof, self._server_name)

    @rpc("service_prove", ServiceProve, public=True)
    async def service_prove(self, conn: RpcConnection, p: ServiceProve) -> dict[str, Any]:
        """Finish a service handshake with the client's proof of the link secret."""
        pending = conn.state.pop("service_hello", None)
        if pending is None:
            raise RpcError("auth_failed", "call service_hello first")
        role, name, client_nonce, server_nonce, secret = pending
        expected = _proof(secret, b"client", role, server_nonce, client_nonce)
        if not hmac.compare_digest(expected, p.client_proof):
            close_after_reply(conn, "bad service proof")
            raise RpcError("auth_failed", "wrong link secret")
        conn.identity = Identity(role, name)
        conn.trust_as_service()
        if self._on_authenticated is not None:
            result = self._on_authenticated(conn)
            if inspect.isawaitable(result):
                await result
        return {"ok": True, "peer": self._server_name}


async def authenticate_service(
    conn: RpcConnection, *, role: str, name: str, secret: bytes, peer_role: str
) -> str:
    """Run the service handshake as the client; returns the server's name.

    Raises RpcError("auth_failed") if the server cannot prove the same secret.
    """
    client_nonce = os.urandom(NONCE_BYTES)
    hello = msgspec.convert(
        await conn.call("service_hello", role, name, client_nonce), HelloResult
    )
    expected = _proof(secret, b"server", role, client_nonce, hello.server_nonce)
    if not hmac.compare_digest(expected, hello.server_proof):
        conn.close("server failed to prove the link secret")
        raise RpcError("auth_failed", f"{quote(hello.server_name, 80)} does not know our key"
                                      f" for {role} {quote(name, 80)}: the key is wrong (of"
                                      " another world?) or the server is not who it should be")
    conn.identity = Identity(peer_role, hello.server_name)
    conn.trust_as_service()
    await conn.call(
        "service_prove", _proof(secret, b"client", role, hello.server_nonce, client_nonce)
    )
    return hello.server_name
