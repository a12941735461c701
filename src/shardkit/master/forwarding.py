"""Master port methods for the web bridge: a browser's own address instead of the bridge's.

Every browser reaches the master through the web process, so without this step every browser
player would have the bridge's address (127.0.0.1) for the login brakes, address bans, the
login history and the logs. The bridge proves a key derived from ``master_link`` (which only
the cluster's own processes read) by challenge-response, and names the browser's address:

    bridge -> bridge_challenge()            -> {"nonce": bin 16}
    bridge -> bridge_forward(address, proof) -> {"ok": true}
    proof = HMAC-SHA256(derive_key(master_link, "bridge-forward"),
                        "shardkit-forward|" + nonce + "|" + address)

Only on a connection that has not logged in, once; a wrong proof closes the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os

import msgspec

from shardkit.runtime.peerlog import quote
from shardkit.wire.handshake import close_after_reply, derive_key
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

__all__ = ["BridgeChallenge", "BridgeForward", "BridgeForwarding", "forward_key", "forward_proof"]

log = logging.getLogger("shardkit.master")

NONCE_BYTES = 16
KEY_LABEL = "bridge-forward"


class BridgeChallenge(msgspec.Struct):
    nonce: bytes


class BridgeForward(msgspec.Struct, array_like=True):
    address: str
    proof: bytes


def forward_key(master_link: bytes) -> bytes:
    """The key a bridge proves (never the link secret itself)."""
    return derive_key(master_link, KEY_LABEL)


def forward_proof(key: bytes, nonce: bytes, address: str) -> bytes:
    message = b"shardkit-forward|" + nonce + b"|" + address.encode()
    return hmac.new(key, message, hashlib.sha256).digest()


class BridgeForwarding:
    """``bridge_challenge`` and ``bridge_forward``: the web bridge names a browser's address."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def _fresh(conn: RpcConnection) -> None:
        if conn.identity is not None or "forwarded_by" in conn.state:
            raise RpcError("already_authenticated",
                           "an address is forwarded once, before anything else")

    @rpc("bridge_challenge", public=True)
    def bridge_challenge(self, conn: RpcConnection) -> BridgeChallenge:
        """The web bridge asks for a nonce to prove it may name a browser's address."""
        self._fresh(conn)
        nonce = os.urandom(NONCE_BYTES)
        conn.state["bridge_nonce"] = nonce
        return BridgeChallenge(nonce)

    @rpc("bridge_forward", BridgeForward, public=True)
    def bridge_forward(self, conn: RpcConnection, p: BridgeForward) -> Ok:
        """The web bridge names the browser's address; from now on it is this connection's."""
        self._fresh(conn)
        nonce = conn.state.pop("bridge_nonce", None)
        if nonce is None:
            raise RpcError("auth_failed", "call bridge_challenge first")
        if not hmac.compare_digest(forward_proof(self._key, nonce, p.address), p.proof):
            close_after_reply(conn, "bad bridge proof")
            log.warning("a wrong bridge proof from %s; connection closed", conn.peer_ip)
            raise RpcError("auth_failed", "wrong bridge key")
        try:
            address = str(ipaddress.ip_address(p.address))
        except ValueError:
            raise RpcError("bad_params", f"not an IP address: {quote(p.address, 60)}") from None
        conn.state["forwarded_by"] = conn.peer_ip
        conn.peer_ip = address
        return Ok()
