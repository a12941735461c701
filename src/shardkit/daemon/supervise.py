"""A daemon's supervision of its WorldServers: start, watch, restart with back-off, here or on imps.

Local WorldServers run as this daemon's children; the others on the imp their slot is placed
on (daemon/layout.py), which reports their exits. Every exit goes through the slot's
``RestartTracker``: a growing wait before the next start, and ``crash_loop`` after too many
quick exits in a row. A local WorldServer whose process runs but whose link to the daemon
stays away for ``link_timeout_s`` is killed (and so restarted); one on an imp whose imp is
unreachable is left alone: it may well still serve its players.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from shardkit.config.settings import Settings, WorldSettings
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.layout import LOCAL, ClusterSlot, ImpRecord, WorldLayoutBook
from shardkit.imp.api import ImpApi
from shardkit.imp.schemas import ImpHello, StartWorld, StopWorld, WorldExit
from shardkit.runtime.peerlog import quote
from shardkit.runtime.process import (
    STARTUP_TIMEOUT_S,
    Child,
    describe_exit,
    relay_line,
    shardkit_command,
)
from shardkit.runtime.tasks import background
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.daemon")

WATCH_INTERVAL_S = 0.5


class WorldSupervisor:
    """Runs the world's layout: one task per local WorldServer, calls to imps for the rest."""

    def __init__(self, settings: Settings, world: WorldSettings, registry: ClusterRegistry,
                 *, daemon_port: int = 0) -> None:
        self.settings = settings
        self.world = world
        self.policy = world.supervision
        self.book = WorldLayoutBook(world.name, world.clusters, self.policy, registry)
        self.registry = registry
        self.daemon_port = daemon_port or world.daemon.world_port
        self.children: dict[int, Child] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[None]] = {}  # imp starts under way or waiting
        self._stopping = False

    # ----------------------------------------------------------------- local
    def start(self) -> None:
        for slot in self.book.slots.values():
            if self.book.place(slot) == LOCAL:
                self._tasks.append(asyncio.create_task(self._run_local(slot),
                                                       name=f"cluster {slot.number}"))
        self._tasks.append(asyncio.create_task(self._watch(), name="layout watch"))

    def _child(self, slot: ClusterSlot) -> Child:
        return Child(
            f"world {self.world.name}/{slot.number}",
            shardkit_command("world", "--root", str(self.settings.root), "--world",
                             self.world.name, "--cluster", str(slot.number)),
            restart=False, on_line=relay_line,
            hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
        )

    async def _run_local(self, slot: ClusterSlot) -> None:
        while not self._stopping:
            wait = slot.tracker.waiting_s()
            if wait > 0:
                await asyncio.sleep(wait)
                if self._stopping:
                    return
            child = self._child(slot)
            self.children[slot.number] = child
            slot.state, slot.planned_stop, slot.unlinked_since = "starting", False, None
            slot.linked_once = False
            child.start()
            slot.tracker.started()
            running = asyncio.ensure_future(child.running.wait())
            await asyncio.wait([running, asyncio.ensure_future(child.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            running.cancel()
            slot.pid = child.pid
            await child.wait()
            if self._stopping:
                slot.state = "stopped"
                return
            self._exited(slot, child.exit_reason or "exited")

    def _exited(self, slot: ClusterSlot, reason: str) -> None:
        planned = slot.planned_stop
        delay = slot.tracker.exited(reason, planned=planned)
        slot.pid = None
        slot.planned_stop = False
        if planned:
            slot.state = "waiting"
            log.info("world server %s/%s stopped as asked (%s); starting it again",
                     self.world.name, slot.number, reason)
            return
        slot.state = "crash_loop" if slot.tracker.crash_loop else "backing_off"
        if slot.tracker.crash_loop:
            log.error("world server %s/%s is crash-looping (%d quick exits in a row, last: %s);"
                      " next start in %.1f s", self.world.name, slot.number,
                      slot.tracker.quick_exits, reason, delay)
        else:
            log.warning("world server %s/%s on %s %s; restarting in %.1f s", self.world.name,
                        slot.number, slot.host, reason, delay)

    async def _watch(self) -> None:
        """Mark slots running once registered; kill a local one whose link stays away."""
        while not self._stopping:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            for slot in self.book.slots.values():
                self._watch_slot(slot, now)
            for imp in list(self.book.imps.values()):
                if imp.linked and now - imp.last_heard > self.policy.imp_timeout_s:
                    assert imp.conn is not None
                    log.warning("imp %s went silent for %.1f s; dropping its link",
                                quote(imp.name), now - imp.last_heard)
                    imp.conn.close("no heartbeat")

    def _watch_slot(self, slot: ClusterSlot, now: float) -> None:
        registered = slot.number in self.registry.clusters
        if registered:
            slot.unlinked_since = None
            slot.linked_once = True
            if slot.state in ("starting", "waiting", "unlinked"):
                slot.state = "running"
            return
        if slot.state == "running":
            imp = self.book.imp_of(slot)
            slot.state = "unlinked" if imp is not None and not imp.linked else "starting"
        child = self.children.get(slot.number)
        if slot.host != LOCAL or child is None or not child.running.is_set():
            return
        if slot.state == "starting" and slot.tracker.starts and slot.unlinked_since is None:
            slot.unlinked_since = now
        # a starting process may take as long as a Child gives it to its first heartbeat
        limit = self.policy.link_timeout_s if slot.linked_once else max(
            self.policy.link_timeout_s, STARTUP_TIMEOUT_S)
        if slot.unlinked_since is not None and now - slot.unlinked_since > limit:
            log.error("world server %s/%s runs but has not linked for %.0f s; killing it",
                      self.world.name, slot.number, now - slot.unlinked_since)
            slot.unlinked_since = None
            child.kill()

    async def restart(self, number: int) -> None:
        """Stop a WorldServer as planned (its players are saved) and start it again."""
        slot = self.book.slots[number]
        slot.planned_stop = True
        child = self.children.get(number)
        imp = self.book.imp_of(slot)
        if slot.host == LOCAL and child is not None:
            child.kill(15)  # SIGTERM: it saves its players; _run_local starts it again
        elif imp is not None and imp.conn is not None:
            await ImpApi(imp.conn).stop_world(StopWorld(self.world.name, number))
            self._imp_exit(slot, "stopped as asked")

    async def stop(self) -> None:
        self._stopping = True
        for watch in self._tasks:
            if watch.get_name() == "layout watch":
                watch.cancel()
        await asyncio.gather(*(child.stop() for child in self.children.values()))
        tasks: list[asyncio.Future[None]] = [*self._tasks, *self._pending.values()]
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ imps
    def imp_linked(self, name: str, conn: RpcConnection, hello: ImpHello) -> None:
        """An imp said hello: note what it runs, take its missed exits, start what it should run."""
        record = self.book.imps.get(name)
        if record is None:
            record = self.book.imps[name] = ImpRecord(name, hello, conn)
        record.hello, record.conn, record.last_heard = hello, conn, time.monotonic()
        running = {w.cluster: w for w in hello.running if w.world == self.world.name}
        for exit_ in hello.exits:
            self.imp_exited(name, exit_)
        for slot in self.book.slots.values():
            if self.book.place(slot) != record.host_label:
                continue
            if slot.number in running:
                slot.pid = running[slot.number].pid
                if slot.state in ("unlinked", "waiting"):
                    slot.state = "starting"
            elif slot.number in self._pending:
                continue
            elif slot.tracker.started_at is not None:  # it ran there; the imp lost it
                self._imp_exit(slot, "was gone when its imp linked again")
            else:
                self._schedule_imp_start(slot)
        conn.on_close(lambda c: self._imp_lost(name, c))

    def _imp_lost(self, name: str, conn: RpcConnection) -> None:
        record = self.book.imps.get(name)
        if record is None or record.conn is not conn:
            return
        record.conn = None
        if conn.peer_stopping or conn.said_goodbye:  # a planned stop (``wire/goodbye.py``)
            log.info("imp %s stopped (planned)", quote(name))
        else:
            log.warning("imp %s unlinked; its world servers keep running there", quote(name))
        for slot in self.book.on_imp(name):
            if slot.state in ("running", "starting"):
                slot.state = "unlinked"

    def imp_heard(self, name: str) -> None:
        record = self.book.imps.get(name)
        if record is not None:
            record.last_heard = time.monotonic()

    def imp_exited(self, name: str, exit_: WorldExit) -> None:
        slot = self.book.slots.get(exit_.cluster)
        if exit_.world != self.world.name or slot is None or slot.host != f"imp:{name}":
            return
        if exit_.pid is not None and slot.pid is not None and exit_.pid != slot.pid:
            return  # an older run's exit, already counted
        self._imp_exit(slot, exit_.reason or describe_exit(exit_.code))

    def _imp_exit(self, slot: ClusterSlot, reason: str) -> None:
        if slot.tracker.started_at is None:
            return  # this run's exit was counted already
        self._exited(slot, reason)
        if not self._stopping and slot.number not in self._pending:
            self._schedule_imp_start(slot)

    def _schedule_imp_start(self, slot: ClusterSlot) -> None:
        self._pending[slot.number] = background(self._start_on_imp(slot))

    async def _start_on_imp(self, slot: ClusterSlot) -> None:
        try:
            await asyncio.sleep(slot.tracker.waiting_s())
            imp = self.book.imp_of(slot)
            if self._stopping or imp is None or imp.conn is None:
                slot.state = "unlinked" if imp is not None else "waiting"
                return
            slot.state = "starting"
            slot.tracker.started()
            started = await ImpApi(imp.conn).start_world(StartWorld(
                self.world.name, slot.number, self.world.daemon.host, self.daemon_port))
            slot.pid = started.pid
        except RpcError as exc:
            log.error("imp could not start world server %s/%s: %s", self.world.name,
                      slot.number, quote(exc))
            self._pending.pop(slot.number, None)
            self._imp_exit(slot, f"could not be started: {quote(exc)}")
        finally:
            if self._pending.get(slot.number) is asyncio.current_task():
                self._pending.pop(slot.number, None)
