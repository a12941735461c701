"""Players for bench/fuzz_ports.py: the legitimate player and raw logged-in fuzz connections.

The legitimate player uses only the client library (``shardkit.client.session.GameClient``):
one account stays in a zone walking a square and counts the snapshots it receives, another
logs in over and over and times each login. It runs in a process of its own, so its
latencies are the cluster's and not those of the fuzzer's busy event loop.

Fuzz accounts are registered and logged in through the same library; the connections that
are then fuzzed (master after SCRAM, world after ``ticket_login``, zone after
``zone_login``) are raw sockets, so the fuzzer can write any bytes on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import msgpack

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.scram import ScramClientSession

PASSWORD = "fuzz bench password 1"
WALKER, WALKER_CHARACTER = "legitwalker", "Walkerlegit"
LOGGER = "legitlogin"
LEGIT_NAMES = (WALKER, LOGGER)
HOST = "127.0.0.1"


# ------------------------------------------------------------------ legitimate player


async def _timed_login(client: GameClient, steps: dict[str, float]) -> None:
    """``client.login`` with the time of each of its steps put in ``steps`` (seconds): the
    connect, each call's round trip and the client's own work (``client``, mostly PBKDF2)."""
    began = time.perf_counter()
    conn = await client._master()
    steps["connect"] = time.perf_counter() - began
    plain_call = conn.call

    async def timed_call(method: str, *params: Any, timeout: float | None = None) -> Any:
        call_began = time.perf_counter()
        try:
            return await plain_call(method, *params, timeout=timeout)
        finally:
            steps[method] = steps.get(method, 0.0) + time.perf_counter() - call_began

    conn.call = timed_call  # type: ignore[method-assign]
    login_began = time.perf_counter()
    await client.login(LOGGER, PASSWORD)
    calls = sum(v for k, v in steps.items() if k != "connect")
    steps["client"] = time.perf_counter() - login_began - calls


def legit_player_process(master_port: int, world: str, tick_hz: float, pipe: Any) -> None:
    """Entry point of the legitimate player's process (multiprocessing, spawn)."""
    try:
        asyncio.run(_legit_player(master_port, world, tick_hz, pipe))
    except Exception as exc:  # report, so the parent does not wait forever
        pipe.send(("failed", f"{type(exc).__name__}: {exc}"))


async def _wait_pipe(pipe: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, pipe.recv)


async def _enter(walker: GameClient, world: str) -> None:
    await walker.enter_world(world)
    if not any(c.name == WALKER_CHARACTER for c in await walker.characters()):
        await walker.create_character(WALKER_CHARACTER)
    await walker.enter_game(WALKER_CHARACTER)


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


async def _legit_player(master_port: int, world: str, tick_hz: float, pipe: Any) -> None:
    walker = GameClient(HOST, master_port)
    await walker.register(WALKER, PASSWORD)
    await walker.login(WALKER, PASSWORD)
    await _enter(walker, world)
    await GameClient(HOST, master_port).register(LOGGER, PASSWORD)
    first = GameClient(HOST, master_port)
    await first.login(LOGGER, PASSWORD)  # from now on 127.0.0.1 is a known-good address for it
    await first.close()
    await walker.wait_for(lambda s: s.snapshots > 0, timeout=10)
    pipe.send(("ready", None))
    await _wait_pipe(pipe)  # "start"

    latencies: list[float] = []
    login_errors: list[str] = []
    interruptions = 0
    chat_lines = chat_controls = 0
    stop = asyncio.Event()
    snapshots0, started = walker.state.snapshots, time.monotonic()

    async def walk() -> None:
        nonlocal interruptions, chat_lines, chat_controls
        directions = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
        step = 0
        while not stop.is_set():
            state = walker.state
            chat_lines += len(state.chat)
            chat_controls += sum(_has_controls(s) or _has_controls(t) for s, t in state.chat)
            state.chat.clear()
            lost = (state.kicked or state.zone_lost or walker.zone is None
                    or walker.zone.closed.is_set())
            if lost:
                interruptions += 1
                state.kicked = state.zone_lost = None
                with contextlib.suppress(RpcError, OSError, TimeoutError):
                    await walker.login(WALKER, PASSWORD)
                    await _enter(walker, world)
            else:
                with contextlib.suppress(RpcError):
                    walker.move(*directions[step % 4])
            step += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    slowest: list[tuple[float, dict[str, float]]] = []  # the slowest logins, step by step

    async def log_in_again_and_again() -> None:
        while not stop.is_set():
            client = GameClient(HOST, master_port)
            steps: dict[str, float] = {}
            began = time.perf_counter()
            try:
                await asyncio.wait_for(_timed_login(client, steps), 30)
                latencies.append(time.perf_counter() - began)
            except (RpcError, OSError, TimeoutError) as exc:
                login_errors.append(f"{type(exc).__name__}: {exc}"[:200])
                latencies.append(time.perf_counter() - began)
            finally:
                await client.close()
            slowest.append((latencies[-1], steps))
            slowest.sort(key=lambda item: -item[0])
            del slowest[5:]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    tasks = [asyncio.create_task(walk()), asyncio.create_task(log_in_again_and_again())]
    await _wait_pipe(pipe)  # "stop"
    elapsed = time.monotonic() - started
    snapshots = walker.state.snapshots - snapshots0
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = sorted(x * 1000 for x in latencies)
    pipe.send(("done", {
        "legit_logins": len(ms),
        "legit_login_errors": len(login_errors),
        "legit_login_error_examples": sorted(set(login_errors))[:5],
        "legit_login_p50_ms": round(statistics.median(ms), 1) if ms else None,
        "legit_login_p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1) if ms else None,
        "legit_login_max_ms": round(ms[-1], 1) if ms else None,
        "legit_login_slowest_steps_ms": [
            {"total": round(total * 1000, 1), **{k: round(v * 1000, 1) for k, v in steps.items()}}
            for total, steps in slowest],
        "legit_snapshots": snapshots,
        "legit_snapshots_expected": round(elapsed * tick_hz),
        "legit_snapshots_ratio": round(snapshots / (elapsed * tick_hz), 3) if elapsed else None,
        "legit_interruptions": interruptions,
        "legit_chat_lines": chat_lines,
        "legit_chat_lines_with_control_chars": chat_controls,
    }))
    await walker.close()


# ------------------------------------------------------------------ raw connections


class RawConnection:
    """A socket that speaks MessagePack-RPC by hand: a few calls to log in, then any bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self._msgid = 1_000_000

    @classmethod
    async def open(cls, port: int, source: str | None = None,
                   timeout: float = 5.0) -> RawConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            HOST, port, local_addr=(source, 0) if source else None, limit=2**24), timeout)
        return cls(reader, writer)

    async def call(self, method: str, *params: Any, timeout: float = 10.0) -> Any:
        """One request; reads (and drops) whatever else comes until its response."""
        self._msgid += 1
        msgid = self._msgid
        self.writer.write(msgpack.packb([0, msgid, method, list(params)], use_bin_type=True))
        async with asyncio.timeout(timeout):
            while True:
                for message in self.unpacker:
                    answer = isinstance(message, list) and len(message) == 4
                    if answer and message[:2] == [1, msgid]:
                        if message[2] is not None:
                            error = message[2] if isinstance(message[2], dict) else {}
                            raise RpcError(str(error.get("code", "error")),
                                           str(error.get("message")))
                        return message[3]
                data = await self.reader.read(65536)
                if not data:
                    raise RpcError("closed", f"connection closed before {method} was answered")
                self.unpacker.feed(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class FuzzAccount:
    """A registered account whose logged-in connections the fuzzer may use."""

    name: str
    client: GameClient
    character: str | None = None


def character_name_for(account: str) -> str:
    """A valid character name (letters only) that differs for every account name."""
    letters = "".join(ch if ch.isalpha() else chr(ord("a") + int(ch)) for ch in account
                      if ch.isalnum())
    return ("Fz" + letters.lower())[:16]


async def register_fuzz_account(master_port: int, name: str) -> FuzzAccount:
    client = GameClient(HOST, master_port)
    await client.register(name, PASSWORD)
    return FuzzAccount(name, client)


async def raw_master_login(master_port: int, account: FuzzAccount) -> RawConnection:
    """A raw master connection logged in with SCRAM as the account."""
    conn = await RawConnection.open(master_port)
    try:
        scram = ScramClientSession(account.name, PASSWORD)
        started = await conn.call("login_start", account.name, scram.first())
        final = scram.final(started["server_first"])
        done = await conn.call("login_finish", final)
        scram.verify(done["server_final"])
    except BaseException:
        conn.close()
        raise
    return conn


async def raw_world_login(account: FuzzAccount, world: str) -> RawConnection:
    """A raw world connection logged in with a fresh world ticket."""
    if account.client.master is None or account.client.master.closed.is_set():
        await account.client.login(account.name, PASSWORD)
    master = account.client.master
    assert master is not None
    entry = await master.call("enter_world", world)
    if not isinstance(entry, dict) or "ticket" not in entry:
        raise RpcError("queued", f"no world ticket: {str(entry)[:100]}")
    conn = await RawConnection.open(int(entry["port"]))
    try:
        await conn.call("ticket_login", entry["ticket"])
    except BaseException:
        conn.close()
        raise
    return conn


async def in_world_with_character(account: FuzzAccount, world: str) -> RpcConnection:
    """The account's world connection (logging in and entering as needed), its character made."""
    client = account.client
    if client.world is None or client.world.closed.is_set():
        if client.master is None or client.master.closed.is_set():
            await client.login(account.name, PASSWORD)
        await client.enter_world(world)
    if account.character is None:
        account.character = character_name_for(account.name)
        with contextlib.suppress(RpcError):
            await client.create_character(account.character)
    assert client.world is not None
    return client.world


async def raw_zone_login(account: FuzzAccount, world: str) -> RawConnection:
    """A raw zone connection in play as the account's character (entering the world if needed)."""
    world_conn = await in_world_with_character(account, world)
    entry = await world_conn.call("enter_game", account.character)
    conn = await RawConnection.open(int(entry["port"]))
    try:
        await conn.call("zone_login", entry["ticket"])
    except BaseException:
        conn.close()
        raise
    return conn


async def double_entry(account: FuzzAccount, world: str) -> int:
    """Issue 7 case 6: two ``enter_game``, both tickets redeemed at once; how many got in."""
    world_conn = await in_world_with_character(account, world)
    entries = await asyncio.gather(*(world_conn.call("enter_game", account.character)
                                     for _ in range(2)), return_exceptions=True)
    tickets = [e for e in entries if isinstance(e, dict)]

    async def redeem(entry: dict[str, Any]) -> RawConnection | None:
        conn = await RawConnection.open(int(entry["port"]))
        try:
            await conn.call("zone_login", entry["ticket"])
            return conn
        except (RpcError, OSError, TimeoutError):
            conn.close()
            return None

    conns = await asyncio.gather(*(redeem(e) for e in tickets), return_exceptions=True)
    admitted = [c for c in conns if isinstance(c, RawConnection)]
    await asyncio.sleep(0.5)  # a replaced session would be closed by now
    alive = [await answers(conn) for conn in admitted]
    for conn in admitted:
        conn.close()
    return sum(alive)


async def answers(conn: RawConnection, timeout: float = 2.0) -> bool:
    """Whether a connection is still open and served (an unknown method gets its error)."""
    try:
        await conn.call("no_such_method_probe", timeout=timeout)
    except RpcError as exc:
        return exc.code != "closed"
    except (OSError, TimeoutError):
        return False
    return True
