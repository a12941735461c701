"""Fuzz every RPC port of a cluster while a legitimate player plays: none may die, hang or bloat.

    python bench/fuzz_ports.py [--per-port 100000] [--seed 1] [--ports master,zone,...]
                               [--connections 8] [--bomb-mb 8] [--burst 1000] [--keep]

Starts ``shardkit up`` on a test config in a temporary folder (SQLite), finds its eight RPC
ports (master, GM, the daemon's world/character/imp ports, the WorldServer, zones town and
meadow), and sends at least ``--per-port`` hostile messages to each, over many concurrent
connections from many loopback addresses: before login on every port, and logged in as a
player on the master, the WorldServer and the town zone. What is sent is described in
bench/fuzz_frames.py (Hypothesis-made messages, raw mutations, issue 7's cases).

Meanwhile a legitimate player (bench/fuzz_players.py, its own process) walks in the town zone
counting snapshots, and logs in again and again timing each login.

Afterwards: every process of the cluster must still be the one that started (nothing exited
or restarted), each port must answer a call within 1 s, and no process may be stuck writing
its output; RSS is compared with before. Prints progress as it goes and ends with one JSON
line; ``crashed_processes`` and ``hung_processes`` must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
for path in (str(SRC), str(BENCH)):
    if path not in sys.path:
        sys.path.insert(0, path)

import msgpack  # noqa: E402
from fuzz_frames import (  # noqa: E402
    BIG_FRAME_BYTES,
    CaseFrames,
    FramePool,
    build_pool,
    case_frames,
    empty_array_bomb,
    mutate,
    valid_params_for,
)
from fuzz_players import (  # noqa: E402
    LEGIT_NAMES,
    PASSWORD,
    WALKER_CHARACTER,
    FuzzAccount,
    RawConnection,
    double_entry,
    in_world_with_character,
    legit_player_process,
    raw_master_login,
    raw_world_login,
    raw_zone_login,
    register_fuzz_account,
)

from shardkit.config.settings import Settings, load_settings  # noqa: E402
from shardkit.daemon.backups import BackupVault  # noqa: E402
from shardkit.daemon.characters import CharacterForwarding  # noqa: E402
from shardkit.daemon.chat import WorldChat  # noqa: E402
from shardkit.daemon.guilds import GuildChat, GuildForwarding  # noqa: E402
from shardkit.daemon.server import WorldServerPort  # noqa: E402
from shardkit.gm.commands import GMCommands  # noqa: E402
from shardkit.gm.server import GMPort  # noqa: E402
from shardkit.master.account_port import AccountPort  # noqa: E402
from shardkit.master.gm_tickets import GMTicketService  # noqa: E402
from shardkit.master.service_port import ServicePort  # noqa: E402
from shardkit.master.world_port import WorldPort  # noqa: E402
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config  # noqa: E402
from shardkit.up import READY_LINE  # noqa: E402
from shardkit.wire.handshake import ServiceAuth  # noqa: E402
from shardkit.wire.rpc import MethodSpec, methods_of  # noqa: E402
from shardkit.world.characters import CharacterPort  # noqa: E402
from shardkit.world.chat import ChatRelay  # noqa: E402
from shardkit.world.guilds import GuildPort  # noqa: E402
from shardkit.world.ports import PlayerPort as WorldPlayerPort  # noqa: E402
from shardkit.world.ports import ZonePort  # noqa: E402
from shardkit.zone.player_port import PlayerPort as ZonePlayerPort  # noqa: E402

HOST = "127.0.0.1"
WORLD = "Atlantis"
FUZZ_ACCOUNTS = {"master": ["fuzzmaster1", "fuzzmaster2"], "world": ["fuzzworld1", "fuzzworld2"],
                 "zone": ["fuzzzone1", "fuzzzone2"]}
DOUBLE_ENTRY_ACCOUNT = "fuzzdouble"
KNOWN_NAMES = [*LEGIT_NAMES, WALKER_CHARACTER, DOUBLE_ENTRY_ACCOUNT,
               *(n for names in FUZZ_ACCOUNTS.values() for n in names)]
MARKER = "fuzz_marker_probe"
PROBE_TIMEOUT_S = 1.0
SESSION_TIMEOUT_S = 20.0
GIVE_UP_AFTER_S = 30.0  # a port that answers nothing for this long is left alone (and reported)


@dataclass(frozen=True)
class Target:
    """One RPC port: how to find it, which process owns it, what it serves, how a player logs in."""

    name: str
    owner: str  # process name (see ``process_name``)
    services: tuple[type, ...]
    login: str | None = None  # "master", "world" or "zone": where the fuzzer can log in as a player

    def methods(self) -> list[MethodSpec]:
        specs: dict[str, MethodSpec] = {}
        for service in self.services:
            for spec in methods_of(service):
                specs.setdefault(spec.name, spec)
        return sorted(specs.values(), key=lambda s: s.name)


TARGETS = [
    Target("master", "master", (AccountPort, WorldPort, ServicePort, GMTicketService, ServiceAuth),
           "master"),
    Target("gm", "gm", (GMPort, GMCommands, ServiceAuth)),
    Target("daemon-worlds", "daemon", (WorldServerPort, CharacterForwarding, GuildForwarding,
                                       GuildChat, WorldChat, BackupVault, ServiceAuth)),
    Target("daemon-characters", "daemon", (ServiceAuth,)),
    Target("daemon-imps", "daemon", (ServiceAuth,)),
    Target("world", "world-0", (WorldPlayerPort, CharacterPort, GuildPort, ZonePort, ChatRelay,
                                ServiceAuth), "world"),
    Target("zone-town", "zone-town", (ZonePlayerPort,), "zone"),
    Target("zone-meadow", "zone-meadow", (ZonePlayerPort,)),
]
ALIASES = {"zone": ["zone-town", "zone-meadow"],
           "daemon": ["daemon-worlds", "daemon-characters", "daemon-imps"]}


def say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------- the cluster


def announced_port(up: RunningProcess, what: str) -> int:
    """The port of the latest ``<what> listening on host:port`` line of ``shardkit up``."""
    pattern = re.compile(re.escape(what) + r" listening on [\d.]+:(\d+)")
    with up.cond:
        lines = list(up.lines)
    for line in reversed(lines):
        match = pattern.search(line)
        if match:
            return int(match.group(1))
    raise RuntimeError(f"nothing announced '{what} listening on'")


def find_ports(settings: Settings, up: RunningProcess) -> dict[str, int]:
    daemon = settings.worlds[WORLD].daemon
    return {
        "master": settings.server.master.port,
        "gm": settings.server.gm.port,
        "daemon-worlds": daemon.world_port,
        "daemon-characters": daemon.characters_port,
        "daemon-imps": daemon.imp_port,
        "world": announced_port(up, f"world {WORLD}/0"),
        "zone-town": announced_port(up, "zone town"),
        "zone-meadow": announced_port(up, "zone meadow"),
    }


def process_name(argv: list[str]) -> str:
    """``master``, ``daemon``, ``world-0``, ``zone-town``, ... from a shardkit command line."""
    try:
        args = argv[argv.index("shardkit") + 1:]
    except ValueError:
        return "?"
    component = args[0] if args else "?"
    for flag, prefix in (("--zone", "zone"), ("--cluster", "world")):
        if component == prefix and flag in args:
            return f"{prefix}-{args[args.index(flag) + 1]}"
    return component


def process_tree(root: int) -> dict[str, int]:
    """Name -> pid of ``shardkit up`` (``up``) and every shardkit process below it."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children[ppid].append(int(entry))
    found: dict[str, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "shardkit" in argv:
            found["up" if pid == root else process_name(argv)] = pid
        todo.extend(children.get(pid, ()))
    return found


def proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def rss_mb(pid: int, key: str = "VmRSS") -> float | None:
    value = proc_status(pid).get(key)
    return round(int(value.split()[0]) / 1024, 1) if value else None


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive(pid: int) -> bool:
    state = proc_status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))


def wchan(pid: int) -> str:
    """Where in the kernel the process sleeps (``pipe_write``: its output is no longer read)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return "?"


def stuck_writing(pid: int) -> bool:
    """Whether the process is blocked writing its stdout or stderr (nobody reads them any more).

    Its output is a pipe or (under uvloop's supervisor) a socket pair; an asyncio process never
    blocks in a write to anything else. x86-64 syscall numbers, with ``wchan`` as the fallback.
    """
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        fields = []
    if len(fields) > 1 and fields[0] in ("1", "20") and fields[1] in ("0x1", "0x2"):
        return True
    return wchan(pid) == "pipe_write"


async def stays_stuck_writing(pid: int, checks: int = 3, gap_s: float = 0.3) -> bool:
    for _ in range(checks):
        if not stuck_writing(pid):
            return False
        await asyncio.sleep(gap_s)
    return True


# ------------------------------------------------------------------------- fuzzing


@dataclass
class PortStats:
    quota: int
    sent: int = 0  # messages the server has read: confirmed by a marker, or closed on
    unconfirmed: int = 0  # written, but the server closed the connection before confirming them
    sent_bytes: int = 0
    sessions: int = 0
    logged_in_batches: int = 0
    closed_on_big_frame: int = 0  # the server closed the connection on one big frame
    closed_early: int = 0  # ... or on something else before confirming a batch
    closing_not_closed: int = 0  # a frame we expected to close the connection did not, in time
    stalled: int = 0  # a batch not confirmed within SESSION_TIMEOUT_S while the connection stayed
    connect_failures: int = 0
    logins: int = 0
    login_failures: int = 0
    login_failure_examples: set[str] = field(default_factory=set)
    replies: collections.Counter[str] = field(default_factory=collections.Counter)
    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    burst_refused: int = 0
    burst_size: int = 0
    started: float = 0.0
    finished: float = 0.0
    last_answer: float = 0.0  # when a batch was last confirmed
    given_up: bool = False


class FuzzConnection:
    """A fuzzing connection: writes frames batch by batch, reads and tallies whatever comes back."""

    _marker_ids = iter(range(4_000_000_000, 4_294_967_295))

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stats: PortStats, unpacker: Any = None) -> None:
        self.reader = reader
        self.writer = writer
        self.stats = stats
        self.unpacker = unpacker or msgpack.Unpacker(raw=False, strict_map_key=False,
                                                     max_buffer_size=2**26)
        self.closed = asyncio.Event()
        self.markers: dict[int, asyncio.Future[None]] = {}
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, port: int, source: str, stats: PortStats) -> FuzzConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port, local_addr=(source, 0)), 5)
        return cls(reader, writer, stats)

    @classmethod
    def adopt(cls, raw: RawConnection, stats: PortStats) -> FuzzConnection:
        return cls(raw.reader, raw.writer, stats, raw.unpacker)

    async def _read(self) -> None:
        try:
            self._tally()
            while data := await self.reader.read(262144):
                self.unpacker.feed(data)
                self._tally()
        except (OSError, ValueError, msgpack.UnpackException):
            pass
        finally:
            self.closed.set()
            for future in self.markers.values():
                if not future.done():
                    future.cancel()

    def _tally(self) -> None:
        replies = self.stats.replies
        for message in self.unpacker:
            if not isinstance(message, list) or len(message) < 3:
                replies["odd reply"] += 1
            elif message[0] == 1 and len(message) == 4:
                future = self.markers.pop(message[1], None) if isinstance(message[1], int) else None
                if future is not None:
                    if not future.done():
                        future.set_result(None)
                    continue
                error = message[2]
                replies["ok" if error is None else
                        f"error {error.get('code') if isinstance(error, dict) else error!s:.40}"
                        ] += 1
            elif message[0] == 2:
                params = message[2] if isinstance(message[2], list) else []
                code = params[0].get("code") if params and isinstance(params[0], dict) else None
                replies[f"notify {message[1]!s:.30}" + (f" {code}" if code else "")] += 1

    async def write(self, frames: list[bytes], chunk_bytes: int = 256 * 1024) -> None:
        """Write frames in chunks, waiting for the socket each time (the server may read slowly)."""
        for start in range(0, len(frames), 64):
            batch = frames[start:start + 64]
            data = b"".join(batch)
            for offset in range(0, len(data), chunk_bytes):
                if self.closed.is_set():
                    raise ConnectionResetError("closed by the server")
                try:
                    self.writer.write(data[offset:offset + chunk_bytes])
                except RuntimeError:  # uvloop: the transport is already closed
                    self.closed.set()
                    raise ConnectionResetError("closed by the server") from None
                await self.writer.drain()
            self.stats.sent_bytes += len(data)

    async def confirm(self, timeout: float = SESSION_TIMEOUT_S) -> bool:
        """Send a marker request; True once it is answered (the server read all before it)."""
        msgid = next(self._marker_ids)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.markers[msgid] = future
        await self.write([msgpack.packb([0, msgid, MARKER, []])])
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({future, closed}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if future.done() and not future.cancelled():
            self.stats.last_answer = time.monotonic()
            return True
        if not self.closed.is_set():
            self.stats.stalled += 1
        return False

    async def deliver(self, frames: list[bytes]) -> bool:
        """Send frames, small ones in batches and each big one alone, each confirmed by a marker.

        Counts what the server read; returns False once the connection is closed.
        """
        for batch in batches(frames):
            try:
                await self.write(batch)
                confirmed = await self.confirm()
            except (ConnectionError, OSError):
                confirmed = False
            if confirmed:
                self.stats.sent += len(batch)
                continue
            if len(batch) == 1 and len(batch[0]) > BIG_FRAME_BYTES and self.closed.is_set():
                self.stats.sent += 1  # all before it was confirmed: the server closed on this one
                self.stats.closed_on_big_frame += 1
            else:
                self.stats.unconfirmed += len(batch)
                self.stats.closed_early += self.closed.is_set()
            return False
        return True

    async def closes_within(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


def batches(frames: list[bytes]) -> list[list[bytes]]:
    """Consecutive small frames together, each big frame alone."""
    out: list[list[bytes]] = []
    run: list[bytes] = []
    for frame in frames:
        if len(frame) > BIG_FRAME_BYTES:
            if run:
                out.append(run)
                run = []
            out.append([frame])
        else:
            run.append(frame)
    if run:
        out.append(run)
    return out


def source_address(rng: random.Random) -> str:
    """A loopback address other than 127.0.0.1 (the legitimate player's)."""
    return f"127.0.{rng.randrange(0, 4)}.{rng.randrange(2, 255)}"


@dataclass
class PortPlan:
    """What one port gets: its frame pool, the issue's cases and when each is due."""

    target: Target
    port: int
    pool: FramePool
    stats: PortStats
    cases_before_login: list[tuple[int, CaseFrames | bytes]]
    cases_after_login: list[tuple[int, CaseFrames]]
    public: list[str]

    def due_case(self, logged_in: bool) -> CaseFrames | bytes | None:
        """The next of the issue's cases if its turn came (all are sent, even past the quota)."""
        queue: list[Any] = self.cases_after_login if logged_in else self.cases_before_login
        if queue and (queue[0][0] <= self.stats.sent or self.stats.sent >= self.stats.quota):
            return queue.pop(0)[1]
        return None

    def done(self, logged_in: bool) -> bool:
        cases = self.cases_after_login if logged_in else self.cases_before_login
        return self.stats.given_up or (self.stats.sent >= self.stats.quota and not cases)


def generic_frames(pool: FramePool, rng: random.Random, logged_in: bool) -> list[bytes]:
    """A batch of small frames, sometimes a flood of one, sometimes one big frame at the end."""
    where = "after_login" if logged_in else "before_login"
    if rng.random() < 0.03:  # a flood of one message
        frame = pool.draw_one(rng, f"safe_{where}")
        frames = [frame] * rng.randint(500, 3000) if frame else []
    else:
        frames = pool.draw(rng, f"safe_{where}", rng.randint(20, 300))
    if rng.random() < (0.1 if logged_in else 0.3):  # a big frame closes a connection: not often
        frames += pool.draw(rng, f"big_{where}", 1)
    return frames


async def pre_login_worker(plan: PortPlan, rng: random.Random) -> None:
    """Short connections from many addresses: batches of frames, then maybe a closing frame."""
    stats = plan.stats
    while not plan.done(logged_in=False):
        await asyncio.sleep(0)  # whatever happens below, other tasks get their turn
        case = plan.due_case(logged_in=False)
        closing: bytes | None = None
        label = ""
        if isinstance(case, bytes):  # an oversized message (case 2)
            frames, label = [case], "2-empty-array-bomb"
        elif case is not None:
            frames, label = list(case.frames) * case.repeat, case.case
            if case.closes:
                frames, closing = frames[:-1], frames[-1]
        else:
            frames = generic_frames(plan.pool, rng, logged_in=False)
            if rng.random() < 0.5:
                if rng.random() < 0.5:
                    closing = plan.pool.draw_one(rng, "closing_before_login")
                else:
                    base = plan.pool.draw_one(rng, "safe_before_login") or b"\x90"
                    closing = mutate(base, rng)
        await run_session(plan, frames, closing, source_address(rng))
        if label:
            stats.cases[label] += 1


async def run_session(plan: PortPlan, frames: list[bytes], closing: bytes | None,
                      source: str) -> None:
    stats = plan.stats
    try:
        conn = await FuzzConnection.open(plan.port, source, stats)
    except (OSError, TimeoutError):
        stats.connect_failures += 1
        await asyncio.sleep(0.05)
        return
    stats.sessions += 1
    try:
        async with asyncio.timeout(SESSION_TIMEOUT_S * 3):
            if await conn.deliver(frames) and closing is not None:
                with contextlib.suppress(ConnectionError, OSError):
                    await conn.write([closing])
                    stats.sent += 1
                    if not await conn.closes_within(3.0):
                        stats.closing_not_closed += 1
    except TimeoutError:
        stats.stalled += 1
    finally:
        await conn.close()


async def logged_in_worker(plan: PortPlan, rng: random.Random,
                           login: Callable[[], Awaitable[RawConnection]]) -> None:
    """One logged-in connection fuzzed with frames that keep it open; logs in again if it closes."""
    stats = plan.stats
    conn: FuzzConnection | None = None
    failures = 0
    try:
        while not plan.done(logged_in=True):
            await asyncio.sleep(0)  # whatever happens below, other tasks get their turn
            if conn is None or conn.closed.is_set():
                if conn is not None:
                    await conn.close()
                    conn = None
                try:
                    raw = await asyncio.wait_for(login(), 20)
                except Exception as exc:
                    stats.login_failures += 1
                    if len(stats.login_failure_examples) < 5:
                        stats.login_failure_examples.add(f"{type(exc).__name__}: {exc}"[:160])
                    failures += 1
                    if failures >= 5:  # cannot log in any more: keep fuzzing before login
                        plan.cases_after_login.clear()
                        await pre_login_worker(plan, rng)
                        return
                    await asyncio.sleep(0.5)
                    continue
                failures = 0
                stats.logins += 1
                conn = FuzzConnection.adopt(raw, stats)
            case = plan.due_case(logged_in=True)
            if isinstance(case, CaseFrames):
                frames = list(case.frames) * case.repeat
                stats.cases[case.case] += 1
            else:
                frames = generic_frames(plan.pool, rng, logged_in=True)
            stats.logged_in_batches += 1
            try:
                async with asyncio.timeout(SESSION_TIMEOUT_S * 3):
                    kept = await conn.deliver(frames)
            except TimeoutError:
                stats.stalled += 1
                kept = False
            if not kept:  # log in again on a new connection
                await conn.close()
                conn = None
    finally:
        if conn is not None:
            await conn.close()


async def connect_burst(plan: PortPlan, count: int, rng: random.Random) -> None:
    """Issue 7 case 14: ``count`` simultaneous connects; how many were refused or timed out."""
    stats = plan.stats

    async def one() -> asyncio.StreamWriter | None:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(
                HOST, plan.port, local_addr=(source_address(rng), 0)), 5)
            return writer
        except (OSError, TimeoutError):
            return None

    writers = await asyncio.gather(*(one() for _ in range(count)))
    stats.burst_size += count
    stats.burst_refused += sum(w is None for w in writers)
    for writer in writers:
        if writer is not None:
            writer.close()


async def fuzz_port(plan: PortPlan, connections: int, burst: int, seed: int,
                    logins: list[Callable[[], Awaitable[RawConnection]]]) -> None:
    rng = random.Random(seed)
    plan.stats.started = time.monotonic()
    if burst:
        await connect_burst(plan, burst, rng)
    workers = [pre_login_worker(plan, random.Random(rng.random())) for _ in range(connections)]
    workers += [logged_in_worker(plan, random.Random(rng.random()), login) for login in logins]
    tasks = [asyncio.create_task(w) for w in workers]
    plan.stats.last_answer = time.monotonic()
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=1.0)
        if time.monotonic() - plan.stats.last_answer > GIVE_UP_AFTER_S:
            plan.stats.given_up = True
            say(f"{plan.target.name}: no answer for {GIVE_UP_AFTER_S:.0f} s;"
                " giving up on this port")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    plan.stats.finished = time.monotonic()


async def report_progress(plans: list[PortPlan], every: float, stop: asyncio.Event) -> None:
    started = time.monotonic()
    last = {p.target.name: 0 for p in plans}
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        parts = []
        for plan in plans:
            s = plan.stats
            rate = (s.sent - last[plan.target.name]) / every
            last[plan.target.name] = s.sent
            state = "GAVE UP" if s.given_up else f"{min(s.sent, s.quota) * 100 // s.quota}%"
            parts.append(f"{plan.target.name} {state} {rate:,.0f}/s")
        total = sum(p.stats.sent for p in plans)
        say(f"[{time.monotonic() - started:6.1f}s] {total:,} sent | " + " | ".join(parts))


# ------------------------------------------------------------------------- checks


async def probe(port: int, timeout: float = PROBE_TIMEOUT_S) -> float | None:
    """Seconds a fresh connection takes to get an answer to a call, or None past ``timeout``."""
    began = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            raw = await RawConnection.open(port, timeout=timeout)
            try:
                await raw.call("no_such_method_probe", timeout=timeout)
            except Exception as exc:
                if getattr(exc, "code", "") != "no_such_method":
                    return None
            finally:
                raw.close()
    except (TimeoutError, OSError):
        return None
    return time.perf_counter() - began


async def chain_probe(account: FuzzAccount | None) -> float | None:
    """A player's ``characters`` call: world -> daemon -> character server, within 1 s."""
    if account is None or account.client.world is None or account.client.world.closed.is_set():
        return None
    began = time.perf_counter()
    try:
        await asyncio.wait_for(account.client.world.call("characters"), PROBE_TIMEOUT_S)
    except Exception:
        return None
    return time.perf_counter() - began


def log_figures(log_dir: Path) -> dict[str, Any]:
    sizes, warnings, tracebacks, examples = {}, {}, {}, []
    for path in sorted(log_dir.glob("*.log")):
        sizes[path.stem] = path.stat().st_size
        warned = traced = 0
        with path.open("rb") as handle:
            for raw_line in handle:
                if b" WARNING " in raw_line[:200]:
                    warned += 1
                if raw_line.startswith(b"Traceback") or b"] Traceback" in raw_line[:120]:
                    traced += 1
                elif re.match(rb"^(\[[^\]]+\] )*\w+(\.\w+)*(Error|Exception): ", raw_line):
                    text = raw_line.decode(errors="replace").strip()[:200]
                    if text not in examples and len(examples) < 8:
                        examples.append(text)
        warnings[path.stem], tracebacks[path.stem] = warned, traced
    return {"log_bytes": sizes, "log_warning_lines": warnings, "log_tracebacks": tracebacks,
            "log_exception_examples": examples}


# ------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-port", type=int, default=100_000, help="hostile messages per port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ports", default="all",
                        help="comma list of " + ",".join(t.name for t in TARGETS)
                        + ", zone, daemon")
    parser.add_argument("--connections", type=int, default=8,
                        help="concurrent connections before login, per port")
    parser.add_argument("--pool", type=int, default=0,
                        help="Hypothesis examples per port (default from --per-port)")
    parser.add_argument("--bomb-mb", type=float, default=8.0,
                        help="size of the empty-array bomb of issue 7 case 2 (0: none)")
    parser.add_argument("--burst", type=int, default=-1,
                        help="simultaneous connects per port (default from --per-port)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder")
    return parser.parse_args(argv)


def selected_targets(spec: str) -> list[Target]:
    if spec == "all":
        return list(TARGETS)
    names: list[str] = []
    for item in spec.split(","):
        names += ALIASES.get(item.strip(), [item.strip()])
    unknown = set(names) - {t.name for t in TARGETS}
    if unknown:
        raise SystemExit(f"unknown ports: {', '.join(sorted(unknown))}")
    return [t for t in TARGETS if t.name in names]


def make_plans(targets: list[Target], args: argparse.Namespace,
               known_names: list[str]) -> list[PortPlan]:
    """Frame pools and case schedules for the selected ports (their port numbers come later).

    Ports that serve the same methods share a pool; pools are built in two processes at once.
    """
    all_methods = sorted({m.name for t in TARGETS for m in t.methods()})
    pool_size = args.pool or min(1000, max(300, args.per_port // 100))
    began = time.monotonic()
    keys = {t.name: tuple(m.name for m in t.methods()) for t in targets}
    firsts = {key: t for t in reversed(targets) for key in [keys[t.name]]}
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as workers:
        futures = {key: workers.submit(build_pool, t.methods(), all_methods, known_names,
                                       pool_size, args.seed * 1000 + TARGETS.index(t))
                   for key, t in firsts.items()}
        pools: dict[tuple[str, ...], FramePool] = {k: f.result() for k, f in futures.items()}
    say(f"{len(pools)} frame pools of {pool_size} Hypothesis examples in "
        f"{time.monotonic() - began:.1f} s")
    plans = []
    for index, target in enumerate(targets):
        methods = target.methods()
        pool = pools[keys[target.name]]
        rng = random.Random(args.seed * 7919 + index)
        by_name = {m.name: m for m in methods}
        public = [m.name for m in methods if m.roles is None]
        after_login = [m.name for m in methods if m.roles and "player" in m.roles]
        cases = case_frames(target.name, public, after_login if target.login else [],
                            known_names, args.per_port,
                            lambda name, by_name=by_name, rng=rng:
                            valid_params_for(by_name[name], rng))
        before: list[Any] = [c for c in cases if not c.after_login]
        after = [c for c in cases if c.after_login]
        if args.bomb_mb > 0:
            bomb_method = public[0] if public else "ping"
            before += [empty_array_bomb(bomb_method, args.bomb_mb)
                       for _ in range(max(1, args.per_port // 50_000))]
        rng.shuffle(before)
        quota = args.per_port
        plans.append(PortPlan(
            target, 0, pool, PortStats(quota),
            [(quota * (i + 1) // (len(before) + 2), c) for i, c in enumerate(before)],
            [(quota * (i + 1) // (len(after) + 2), c) for i, c in enumerate(after)],
            public,
        ))
        say(f"{target.name}: {len(methods)} methods, pool {pool.sizes()}, {len(cases)} cases")
    return plans


async def fuzz_cluster(args: argparse.Namespace, up: RunningProcess, settings: Settings,
                       root: Path, plans: list[PortPlan]) -> dict[str, Any]:
    ports = find_ports(settings, up)
    for plan in plans:
        plan.port = ports[plan.target.name]
    targets = [plan.target for plan in plans]
    master_port = ports["master"]
    tick_hz = settings.worlds[WORLD].tick_hz

    # the legitimate player, in its own process
    ctx = mp.get_context("spawn")
    parent_pipe, child_pipe = ctx.Pipe()
    legit = ctx.Process(target=legit_player_process, args=(master_port, WORLD, tick_hz, child_pipe),
                        daemon=True)
    legit.start()
    loop = asyncio.get_running_loop()

    async def from_legit(timeout: float) -> Any:
        if not await loop.run_in_executor(None, parent_pipe.poll, timeout):
            raise RuntimeError("the legitimate player did not answer")
        kind, value = parent_pipe.recv()
        if kind == "failed":
            raise RuntimeError(f"the legitimate player failed: {value}")
        return value

    # fuzz accounts (registered and logged in through the client library)
    accounts: dict[str, list[FuzzAccount]] = {
        role: [await register_fuzz_account(master_port, n) for n in role_names]
        for role, role_names in FUZZ_ACCOUNTS.items()}
    doubled = await register_fuzz_account(master_port, DOUBLE_ENTRY_ACCOUNT)
    for account in accounts["world"] + accounts["zone"] + [doubled]:
        await account.client.login(account.name, PASSWORD)
    chain_account = accounts["zone"][0]
    await in_world_with_character(chain_account, WORLD)  # for the characters chain probe
    await from_legit(90)

    def login_for(target: Target) -> list[Callable[[], Awaitable[RawConnection]]]:
        if target.login == "master":
            return [lambda a=a: raw_master_login(master_port, a) for a in accounts["master"]]
        if target.login == "world":
            return [lambda a=a: raw_world_login(a, WORLD) for a in accounts["world"]]
        if target.login == "zone":
            return [lambda a=a: raw_zone_login(a, WORLD) for a in accounts["zone"]]
        return []

    double_admitted = await double_entry(doubled, WORLD) if any(
        t.login == "zone" for t in targets) else None
    say(f"issue 7 case 6 (two enter_game at once): {double_admitted} of 2 admitted")

    before = process_tree(up.process.pid)
    rss_before = {name: rss_mb(pid) for name, pid in before.items()}
    cpu_before = {name: cpu_s(pid) for name, pid in before.items()}
    up_lines_before = len(up.lines)
    say("processes: " + ", ".join(f"{n} {p} ({rss_before[n]} MB)" for n, p in before.items()))

    parent_pipe.send("start")
    began, fuzzer_cpu_before = time.monotonic(), time.process_time()
    burst = args.burst if args.burst >= 0 else min(1000, max(50, args.per_port // 100))
    stop_progress = asyncio.Event()
    progress = asyncio.create_task(report_progress(plans, 5.0 if args.per_port > 10_000 else 2.0,
                                                   stop_progress))
    await asyncio.gather(*(fuzz_port(plan, args.connections, burst, args.seed * 31 + i,
                                     login_for(plan.target))
                           for i, plan in enumerate(plans)))
    fuzz_seconds = time.monotonic() - began
    cpu_used = {name: round(used - cpu_before[name], 1) for name, pid in before.items()
                if (used := cpu_s(pid)) is not None and cpu_before[name] is not None}
    cpu_used["fuzzer"] = round(time.process_time() - fuzzer_cpu_before, 1)
    stop_progress.set()
    await progress
    parent_pipe.send("stop")
    legit_figures = await from_legit(60)
    for plan in plans:
        s = plan.stats
        say(f"{plan.target.name}: {s.sent:,} messages ({s.sent_bytes / 1e6:.1f} MB) in "
            f"{s.finished - s.started:.1f} s = {s.sent / max(1e-9, s.finished - s.started):,.0f}/s;"
            f" ({s.unconfirmed:,} unconfirmed); sessions {s.sessions} + {s.logged_in_batches}"
            f" logged-in batches ({s.logins} logins, {s.login_failures} failed); closed on a big"
            f" frame {s.closed_on_big_frame}, early {s.closed_early}, stalled {s.stalled},"
            f" burst refused {s.burst_refused}/{s.burst_size}")
        say(f"    replies: {dict(s.replies.most_common(12))}")
        if s.login_failure_examples:
            say(f"    login failures: {sorted(s.login_failure_examples)}")

    # afterwards: alive, answering, not stuck, RSS
    await asyncio.sleep(2.0)
    probes: dict[str, float | None] = {}
    for attempt in range(3):
        for plan in plans:
            if probes.get(plan.target.name) is None:
                probes[plan.target.name] = await probe(plan.port)
        if all(v is not None for v in probes.values()):
            break
        silent = [k for k, v in probes.items() if v is None]
        say(f"no answer within {PROBE_TIMEOUT_S} s from {silent}"
            f" (attempt {attempt + 1} of 3)")
        await asyncio.sleep(2.0)
    chain = await chain_probe(chain_account)
    after = process_tree(up.process.pid)
    stuck = {name for name, pid in after.items() if await stays_stuck_writing(pid)}
    crashed = {name for name, pid in before.items() if not alive(pid) or after.get(name) != pid}
    exit_lines = [line for line in up.lines[up_lines_before:] if "exited with" in line]
    for line in exit_lines:
        for name in before:
            if name in line or name.replace("-", " ") in line:
                crashed.add(name)
    hung = {t.owner for t in targets if probes.get(t.name) is None} | stuck
    if chain is None and not hung & {"world-0", "daemon"}:
        hung.add("characters")
    rss_after = {name: rss_mb(pid) for name, pid in after.items()}
    peak = {name: rss_mb(pid, "VmHWM") for name, pid in after.items()}
    growth = {name: round((rss_after.get(name) or 0) - (rss_before.get(name) or 0), 1)
              for name in before if rss_after.get(name) is not None}
    figures: dict[str, Any] = {
        "messages": sum(p.stats.sent for p in plans),
        "messages_per_port": {p.target.name: p.stats.sent for p in plans},
        "fuzz_seconds": round(fuzz_seconds, 1),
        "messages_per_s": round(sum(p.stats.sent for p in plans) / fuzz_seconds),
        "crashed_processes": len(crashed),
        "crashed": sorted(crashed),
        "exit_lines": [line[:200] for line in exit_lines[:5]],
        "hung_processes": len(hung),
        "hung": sorted(hung),
        "stuck_writing_output": sorted(stuck),
        "hung_wchan": {name: wchan(after[name]) for name in sorted(hung) if name in after},
        "probe_ms": {k: None if v is None else round(v * 1000, 1) for k, v in probes.items()},
        "characters_chain_probe_ms": None if chain is None else round(chain * 1000, 1),
        "max_rss_growth_mb": {"max": max(growth.values(), default=0.0), "per_process": growth},
        "rss_mb_after": rss_after,
        "peak_rss_mb": peak,
        "cpu_s_during_fuzz": cpu_used,
        "machine_load_avg": [round(x, 2) for x in os.getloadavg()],
        **legit_figures,
        "double_entry_admitted": double_admitted,
        "connect_burst_refused": {p.target.name: p.stats.burst_refused for p in plans},
        "internal_errors": {p.target.name: p.stats.replies["error internal"] for p in plans},
        "closed_early": {p.target.name: p.stats.closed_early for p in plans},
        "stalled_sessions": sum(p.stats.stalled for p in plans),
        "ports_given_up": [p.target.name for p in plans if p.stats.given_up],
        "logged_in_batches": {p.target.name: p.stats.logged_in_batches for p in plans
                              if p.stats.logged_in_batches},
        "messages_unconfirmed": {p.target.name: p.stats.unconfirmed for p in plans},
        "closed_on_big_frame": {p.target.name: p.stats.closed_on_big_frame for p in plans},
        "cases_sent": dict(sum((p.stats.cases for p in plans), collections.Counter())),
    }
    figures.update(log_figures(root / "data" / "logs"))
    legit.join(10)
    if legit.is_alive():
        legit.kill()
    for account in [*(a for acc in accounts.values() for a in acc), doubled]:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(account.client.close(), 5)
    return figures


def stop_cluster(up: RunningProcess, pids: dict[str, int]) -> tuple[float, bool]:
    """Stop ``shardkit up`` and kill (by pid) any of its processes still there.

    Returns the seconds it took and whether it was clean.
    """
    began = time.monotonic()
    code = up.stop(timeout=60)
    leftovers = [pid for pid in pids.values() if alive(pid)]
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return time.monotonic() - began, code == 0 and not leftovers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    root = Path(tempfile.mkdtemp(prefix="shardkit-fuzz-"))
    write_cluster_config(root)
    up = start_shardkit(root, "up")
    pids: dict[str, int] = {}
    figures: dict[str, Any] = {}
    try:
        plans = make_plans(selected_targets(args.ports), args, KNOWN_NAMES)  # while it starts
        up.wait_for_line(READY_LINE, timeout=120)
        settings = load_settings(root)
        pids = process_tree(up.process.pid)
        figures = asyncio.run(fuzz_cluster(args, up, settings, root, plans))
        pids.update(process_tree(up.process.pid))
    finally:
        shutdown_s, clean = stop_cluster(up, pids or process_tree(up.process.pid))
        figures.update({"shutdown_s": round(shutdown_s, 1), "shutdown_clean": clean})
        if args.keep:
            say(f"cluster folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    say(json.dumps(figures))
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "fuzz"
    sys.exit(main())
