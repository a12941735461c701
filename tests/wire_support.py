"""A small RPC service for the wire-limit tests: in-process, or as its own process.

    python tests/wire_support.py     # prints its port, serves until its stdin closes
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

from shardkit.wire.rpc import Identity, Router, RpcConnection, RpcError, rpc, serve


class LoginParams(msgspec.Struct, array_like=True):
    name: str


class SaltParams(msgspec.Struct, array_like=True):
    name: str
    salt: bytes


class Probe:
    """Methods that let a test see what the server accepted and when."""

    def __init__(self) -> None:
        self.held = 0  # `hold` calls running now
        self.most_held = 0
        self.counted = 0  # `count` notifications handled
        self.release = asyncio.Event()
        self.holding = asyncio.Event()  # set whenever a `hold` starts

    @rpc("ping", public=True)
    def ping(self, conn: RpcConnection) -> str:
        return "pong"

    @rpc("login", LoginParams, public=True)
    def login(self, conn: RpcConnection, p: LoginParams) -> bool:
        """Authenticate the connection as a player (what a real login ends with)."""
        conn.identity = Identity("player", p.name)
        return True

    @rpc("hold", public=True)
    async def hold(self, conn: RpcConnection) -> str:
        """Stay in flight until the test releases every held call."""
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        self.holding.set()
        try:
            await self.release.wait()
        finally:
            self.held -= 1
        return "released"

    @rpc("count", public=True)
    def count(self, conn: RpcConnection) -> None:
        self.counted += 1

    @rpc("enter", LoginParams, public=True)
    def enter(self, conn: RpcConnection, p: LoginParams) -> None:
        """Refuse synchronously with an RpcError (as a world the master does not know is)."""
        raise RpcError("no_such_world", f"no world {p.name!r}")

    @rpc("crash", LoginParams, public=True)
    def crash(self, conn: RpcConnection, p: LoginParams) -> None:
        """Fail unexpectedly with the peer's text in the exception (a bug's traceback)."""
        raise ValueError(f"nothing called {p.name}")

    @rpc("salted", SaltParams, public=True)
    def salted(self, conn: RpcConnection, p: SaltParams) -> int:
        return len(p.salt)


async def serve_probe(probe: Probe | None = None):
    """An RPC server for ``probe`` on 127.0.0.1, on a free port, with the default bounds."""
    return await serve("127.0.0.1", 0, Router.for_services(probe or Probe()), require_auth=False)


async def _main() -> None:
    server = await serve_probe()
    print(server.port, flush=True)
    stdin_closed = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stdin_closed.set)
    await stdin_closed.wait()
    await server.close()


if __name__ == "__main__":
    asyncio.run(_main())
