"""A zone SIGKILLed is noticed and restarted by its WorldServer, and the player gets back in."""

from __future__ import annotations

import os
import re
import signal

import asyncssh
import pytest

from shardkit.client.session import GameClient

pytestmark = pytest.mark.cluster


async def world_console(cluster, command: str) -> str:
    """Run one command on the WorldServer's SSH console, as an operator would with ssh."""
    port = cluster.announced_port("world Atlantis/0 console (ssh)")
    ssh = cluster.settings.worlds["Atlantis"].ssh
    async with asyncssh.connect(
        "127.0.0.1", port, username=ssh.username,
        password=cluster.settings.secrets.world_console_password,
        known_hosts=None, client_keys=None,
    ) as conn:
        result = await conn.run(command, check=True, timeout=10)
        return str(result.stdout)


def zone_pid(status: str, zone: str) -> int:
    match = re.search(rf"zone {zone}: up, .* pid (\d+)", status)
    assert match, status
    return int(match.group(1))


async def test_zone_killed_is_restarted_and_player_returns(cluster) -> None:
    client = GameClient("127.0.0.1", cluster.master_port)
    try:
        await client.register("crashtester", "survives crashes")
        await client.login("crashtester", "survives crashes")
        await client.enter_world("Atlantis")
        await client.create_character("Phoenix")
        entered = await client.enter_game("Phoenix")
        await client.wait_for(lambda s: entered.entity_id in s.seen)

        pid = zone_pid(await world_console(cluster, "status"), "town")
        os.kill(pid, signal.SIGKILL)

        # the world server notices and tells the player
        await client.wait_for(lambda s: s.zone_lost == "town", timeout=10)
        # the supervisor starts a new zone process and the player gets back in
        again = await client.enter_game("Phoenix")
        assert again.zone == "town"
        await client.wait_for(lambda s: again.entity_id in s.seen)
        new_pid = zone_pid(await world_console(cluster, "status"), "town")
        assert new_pid != pid
        client.say("still here")
        await client.wait_for(lambda s: ("Phoenix", "still here") in s.chat)
    finally:
        await client.close()


async def test_ssh_console_refuses_wrong_password(cluster) -> None:
    port = cluster.announced_port("world Atlantis/0 console (ssh)")
    with pytest.raises((asyncssh.PermissionDenied, asyncssh.DisconnectError)):
        async with asyncssh.connect("127.0.0.1", port, username="admin", password="wrong",
                                    known_hosts=None, client_keys=None):
            pass
