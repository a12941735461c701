"""Helpers for GM tests in a whole cluster: accounts with roles, game masters, players in play."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from conftest import Cluster

from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.gm.api import GMApi
from shardkit.gm.schemas import AuditQuery, AuditRow
from shardkit.store.accounts import AccountStore
from shardkit.store.database import Database
from shardkit.wire.rpc import RpcError

PASSWORD = "gm password here"
WORLD = "Atlantis"


async def code_of(action: Awaitable[Any]) -> tuple[str, str]:
    """The code and message of the RpcError ``action`` fails with (it must fail)."""
    with pytest.raises(RpcError) as caught:
        await action
    return caught.value.code, caught.value.message


async def register_role(cluster: Cluster, name: str, role: str) -> None:
    db = await Database.open(cluster.database_url("master"), schema="master")
    try:
        assert await AccountStore(db).set_role(name, role)
    finally:
        await db.close()


async def register(cluster: Cluster, name: str, role: str = "player") -> None:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(name, PASSWORD)
    await client.close()
    if role != "player":
        await register_role(cluster, name, role)


async def game_master(cluster: Cluster, name: str, role: str = "gm") -> GMClient:
    await register(cluster, name, role)
    gm = GMClient("127.0.0.1", cluster.master_port)
    await gm.login(name, PASSWORD)
    return gm


async def enter_as(client: GameClient, character: str, *, enter: bool = True,
                   port: int | None = None, cluster: int | None = None) -> GameClient:
    """A logged-in client in the world with a new character, in play unless ``enter`` is off;
    ``port``: the world port of another WorldServer than the world's entry point."""
    await client.enter_world(WORLD, port=port, cluster=cluster)
    await client.create_character(character)
    if enter:
        entered = await client.enter_game(character)
        await client.wait_for(lambda s: entered.entity_id in s.seen)
    return client


async def player_in_game(cluster: Cluster, account: str, character: str,
                         *, enter: bool = True, server: int = 0) -> GameClient:
    """A new account with a new character, in play on WorldServer ``server`` of the world."""
    await register(cluster, account)
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.login(account, PASSWORD)
    port = cluster.announced_port(f"world {WORLD}/{server}") if server else None
    return await enter_as(client, character, enter=enter, port=port,
                          cluster=server if server else None)


async def all_closed(client: GameClient) -> None:
    for conn in (client.master, client.world, client.zone):
        assert conn is not None
        await asyncio.wait_for(conn.wait_closed(), 10)


async def entries(api: GMApi, **where: Any) -> list[AuditRow]:
    """The audit log's entries, newest first, filtered like ``audit_query``."""
    return (await api.audit_query(AuditQuery(**where, limit=500))).entries


def admin_name(gm: GMClient) -> str:
    assert gm.welcome is not None
    return gm.welcome.account_name
