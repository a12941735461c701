"""SCRAM-SHA-256 for player logins (via scramp): verifiers, the client side and a server session.

The password never crosses the wire, not even at registration: the client derives the
salted verifier (salt, stored key, server key, iterations) and sends only that.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec
import scramp

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096  # RFC 7677's minimum; raise it in config for more cost per guess
_mechanism = scramp.ScramMechanism(MECHANISM)


class Verifier(msgspec.Struct, frozen=True):
    """What the master stores instead of a password."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


def make_verifier(
    password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> Verifier:
    """The verifier a client registers; ``salt`` is random (32 bytes) unless given."""
    salt, stored_key, server_key, count = _mechanism.make_auth_info(
        password, iteration_count=iterations, salt=salt
    )
    return Verifier(salt, stored_key, server_key, count)


def decoy_verifier(server_secret: bytes, username: str, iterations: int) -> Verifier:
    """A stable fake verifier for unknown names, so a login reveals nothing about who exists."""
    seed = hmac.new(server_secret, username.casefold().encode(), hashlib.sha256).digest()
    return Verifier(seed, hashlib.sha256(seed + b"s").digest(),
                    hashlib.sha256(seed + b"k").digest(),
                    iterations)


class ScramServerSession:
    """One login attempt on the server side."""

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier
        self._server = _mechanism.make_server(self._auth_info)
        self.username: str | None = None  # as named inside client-first

    def _auth_info(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        self.username = username
        v = self._verifier
        return v.salt, v.stored_key, v.server_key, v.iterations

    def first(self, client_first: str) -> str:
        """Take the client-first message and answer the server-first message."""
        self._server.set_client_first(client_first)
        return str(self._server.get_server_first())

    def final(self, client_final: str) -> str:
        """Check the client's proof; raises scramp.ScramException if it is wrong."""
        self._server.set_client_final(client_final)
        return str(self._server.get_server_final())


ScramError = scramp.ScramException


class ScramClientSession:
    """The client side of one login: wraps scramp's client."""

    def __init__(self, username: str, password: str) -> None:
        self._client = scramp.ScramClient([MECHANISM], username, password)

    def first(self) -> str:
        return str(self._client.get_client_first())

    def final(self, server_first: str) -> str:
        """Take the server-first message (this is where PBKDF2 runs) and answer client-final."""
        self._client.set_server_first(server_first)
        return str(self._client.get_client_final())

    def verify(self, server_final: str) -> None:
        """Check that the server knew the verifier; raises ScramError if not."""
        self._client.set_server_final(server_final)

