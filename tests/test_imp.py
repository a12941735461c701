"""A WorldImp started with --daemon-ip/--daemon-port starts the WorldServer its daemon assigns to it."""

from __future__ import annotations

import pytest
from conftest import Cluster, start_cluster

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError, connect

pytestmark = pytest.mark.cluster

IMP_CLUSTER = """
[[clusters]]
number = 1
zones = ["harbor"]
runs_on = "imp:local"
"""


@pytest.fixture(scope="module")
def imp_cluster(tmp_path_factory: pytest.TempPathFactory):
    running = start_cluster(tmp_path_factory.mktemp("imp"), extra_clusters=IMP_CLUSTER)
    yield running
    assert running.stop() == 0


async def test_imp_starts_the_world_server_the_daemon_assigns(imp_cluster: Cluster) -> None:
    up = imp_cluster.up
    # the WorldServer of cluster 1 was started by the imp process, not the daemon
    index = up.wait_for_line("world Atlantis/1 ready", timeout=30)
    assert up.lines[index].strip().startswith("imp-Atlantis |"), up.lines[index]
    port = imp_cluster.announced_port("world Atlantis/1")
    harbor = imp_cluster.announced_port("zone harbor")

    # it is a working world server: it answers on its port and its zone takes connections
    conn = await connect("127.0.0.1", port)
    try:
        with pytest.raises(RpcError) as refused:
            await conn.call("characters")
        assert refused.value.code == "auth_required"
    finally:
        conn.close()
    zone = await connect("127.0.0.1", harbor)
    zone.close()

    # and the world (entered through cluster 0) keeps working for players
    client = GameClient("127.0.0.1", imp_cluster.master_port)
    try:
        await client.register("impuser", "imp password")
        await client.login("impuser", "imp password")
        await client.enter_world("Atlantis")
        assert await client.characters() == []
    finally:
        await client.close()


async def test_imp_reports_a_killed_world_server_and_the_daemon_restarts_it(
        imp_cluster: Cluster) -> None:
    import os
    import signal

    from test_supervision import wait_for_cluster

    settings = imp_cluster.settings
    before = await wait_for_cluster(settings, 1, lambda c: c.state == "running", timeout=60)
    assert before.host == "imp:local" and before.pid is not None
    os.kill(before.pid, signal.SIGKILL)
    # the imp reports the exit; the daemon starts it again through the imp (its standby)
    after = await wait_for_cluster(
        settings, 1, lambda c: c.state == "running" and c.pid not in (None, before.pid))
    assert after.restarts == before.restarts + 1 and "SIGKILL" in after.last_exit, after
    assert after.host == "imp:local"
    # the standby took the cluster, so the imp made the next one
    index = imp_cluster.up.wait_for_line("[world standby 2] world standby ready", timeout=60)
    assert imp_cluster.up.lines[index].strip().startswith("imp-Atlantis |")
