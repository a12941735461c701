"""A character-storage rig: real GM, master, character server and daemon, driven as a WorldServer.

The rig connects to the daemon's WorldServer port exactly as a WorldServer does, so every
save it makes travels the production path (daemon -> character server -> database) over
real sockets. Durability tests and the save benchmark share it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from shardkit.characters.calls import CharacterCalls
from shardkit.characters.schemas import (
    CharacterRef,
    CharacterState,
    CreateCharacter,
    SaveCharacter,
    SaveResult,
)
from shardkit.config.settings import Settings, load_settings
from shardkit.content import content_dir, content_version
from shardkit.daemon.api import DaemonApi
from shardkit.daemon.schemas import RegisterCluster
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcConnection, connect

WORLD = "Atlantis"


class CharacterRig:
    """Start with ``await rig.start()``; ``rig.conn`` then speaks for WorldServer Atlantis/0."""

    def __init__(self, root: Path, characters_url: str = "") -> None:
        self.root = root
        self.characters_url = characters_url
        self.processes: list[RunningProcess] = []
        self.daemon: RunningProcess | None = None
        self.characters: RunningProcess | None = None
        self.conn: RpcConnection | None = None
        self.settings: Settings | None = None
        self._linked_line = -1

    def _start(self, *args: str) -> RunningProcess:
        process = start_shardkit(self.root, *args)
        self.processes.append(process)
        return process

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_cluster_config(self.root, database_urls={"characters": self.characters_url},
                             cluster0_runs_on="imp:none")
        self.settings = load_settings(self.root)
        await asyncio.to_thread(self._start("gm").wait_for_line, "gm listening")
        await asyncio.to_thread(self._start("master").wait_for_line, "master listening")
        self.daemon = self._start("daemon", "--world", WORLD)
        await asyncio.to_thread(self.daemon.wait_for_line, f"daemon {WORLD} listening")
        self.characters = self._start("characters")
        self.conn = await connect("127.0.0.1", self.settings.worlds[WORLD].daemon.world_port)
        await authenticate_service(self.conn, role="world", name=f"{WORLD}/0",
                                   secret=self.settings.secrets.world_link_key(WORLD),
                                   peer_role="daemon")
        version = content_version(content_dir(self.settings.server.cluster.content_dir, self.root))
        await DaemonApi(self.conn).register_cluster(RegisterCluster(0, "127.0.0.1", 1, version))
        await self.wait_for_character_server()

    async def wait_for_character_server(self) -> None:
        """Wait until the daemon reports a (new) character server link."""
        assert self.daemon is not None
        self._linked_line = await asyncio.to_thread(
            self.daemon.wait_for_line, "character server linked", 60, self._linked_line + 1
        )

    async def create_characters(self, count: int, prefix: str = "Rig") -> list[CharacterState]:
        """``count`` new characters (account ids 1..count), loaded into play."""
        assert self.conn is not None
        states = []
        for account in range(1, count + 1):
            name = prefix + "".join(chr(ord("a") + int(d)) for d in f"{account:05d}")
            await CharacterCalls.create_character.send(
                self.conn, CreateCharacter(account, name, "town", 10.0, 10.0))
            states.append(await CharacterCalls.load_character.send(
                self.conn, CharacterRef(account, name)))
        return states

    async def save(self, state: CharacterState) -> SaveResult:
        assert self.conn is not None
        return await CharacterCalls.save_character.send(self.conn, SaveCharacter(state, False))

    async def load(self, state: CharacterState) -> CharacterState:
        assert self.conn is not None
        return await CharacterCalls.load_character.send(
            self.conn, CharacterRef(state.account_id, state.name))

    async def kill_and_restart_character_server(self) -> None:
        """SIGKILL the character server, start a new one, wait until the daemon has it again."""
        assert self.characters is not None
        self.characters.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.characters.process.wait, 10)
        self.characters = self._start("characters")
        await self.wait_for_character_server()

    async def stop(self) -> None:
        if self.conn is not None:
            self.conn.close("rig stopping")
        for process in reversed(self.processes):
            await asyncio.to_thread(process.stop)
