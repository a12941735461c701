"""The master sees each browser's own address through the web bridge (``bridge_forward``), and
believes no one else who claims to forward one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from conftest import Cluster
from gm_support import PASSWORD, register

from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.master.forwarding import forward_key, forward_proof
from shardkit.web.ws_transport import BridgeDialer
from shardkit.wire.rpc import RpcError, connect

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]



@pytest.fixture
async def from_address() -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """HTTP sessions whose connections come from 127.0.0.6 and 127.0.0.7."""
    sessions = {ip: aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ip, 0)))
                for ip in ("127.0.0.6", "127.0.0.7")}
    yield sessions
    for session in sessions.values():
        await session.close()


async def bridge_login(cluster: Cluster, http: aiohttp.ClientSession, name: str) -> None:
    dialer = BridgeDialer(f"ws://127.0.0.1:{cluster.announced_port('web')}/ws", http)
    client = GameClient("127.0.0.1", cluster.master_port, dial=dialer.dial)
    try:
        await client.login(name, PASSWORD)
    finally:
        await client.close()
        await dialer.close()


async def test_an_address_ban_reaches_a_browser_behind_the_bridge(
        cluster: Cluster, from_address: dict[str, aiohttp.ClientSession]) -> None:
    await register(cluster, "Banner", "admin")
    await register(cluster, "Wanderer")
    gm = GMClient("127.0.0.1", cluster.master_port)
    try:
        await gm.login("Banner", PASSWORD)
        await gm.api.ban(address="127.0.0.6", duration_s=600.0, reason="forwarding test")
        with pytest.raises(RpcError) as banned:
            await bridge_login(cluster, from_address["127.0.0.6"], "Wanderer")
        assert banned.value.code == "banned"
        # the bridge's own address (127.0.0.1) is not banned, nor is another browser's
        await bridge_login(cluster, from_address["127.0.0.7"], "Wanderer")
    finally:
        await gm.api.unban(address="127.0.0.6")
        await gm.close()


async def test_the_master_believes_no_forged_forwarding(cluster: Cluster) -> None:
    conn = await connect("127.0.0.1", cluster.master_port)
    challenge = await conn.call("bridge_challenge")
    assert len(challenge["nonce"]) == 16
    with pytest.raises(RpcError) as wrong:  # a proof made with another key
        await conn.call("bridge_forward", "10.1.2.3",
                        forward_proof(forward_key(b"\x00" * 32), challenge["nonce"], "10.1.2.3"))
    assert wrong.value.code == "auth_failed"
    await conn.closed.wait()  # and the connection is closed

    conn = await connect("127.0.0.1", cluster.master_port)
    try:
        with pytest.raises(RpcError) as no_challenge:
            await conn.call("bridge_forward", "10.1.2.3", b"\x00" * 32)
        assert no_challenge.value.code == "auth_failed"
    finally:
        conn.close("done")

    key = forward_key(cluster.settings.secrets.key("master_link"))
    conn = await connect("127.0.0.1", cluster.master_port)
    try:  # the right key, once: a second forwarding on the same connection is refused
        nonce = (await conn.call("bridge_challenge"))["nonce"]
        assert await conn.call("bridge_forward", "10.1.2.3",
                               forward_proof(key, nonce, "10.1.2.3")) == {"ok": True}
        with pytest.raises(RpcError) as twice:
            await conn.call("bridge_challenge")
        assert twice.value.code == "already_authenticated"
    finally:
        conn.close("done")
