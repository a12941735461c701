"""Game masters: a GM ticket from the master, the GM port, restoring deleted characters within
restore_days, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Cluster
from sqlalchemy import update

from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.store.accounts import AccountStore
from shardkit.store.character_tables import Character
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database, create_database_engine, name_key, sqlite_url, utcnow
from shardkit.wire.rpc import RpcError, connect

pytestmark = pytest.mark.cluster

PASSWORD = "gm password here"


async def make_gm(cluster: Cluster, name: str) -> None:
    """Register an account and give it the gm role in the master's database."""
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(name, PASSWORD)
    await client.close()
    db = await Database.open(cluster.database_url("master"), schema="master")
    try:
        assert await AccountStore(db).set_role(name, "gm")
    finally:
        await db.close()


async def backdate_deletion(url: str, name: str, days: float) -> None:
    engine = await create_database_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Character)
                .where(Character.world == "Atlantis", Character.name_key == name_key(name))
                .values(deleted_at=utcnow() - timedelta(days=days))
            )
    finally:
        await engine.dispose()


async def test_players_get_no_gm_ticket_and_the_gm_port_wants_one(cluster: Cluster) -> None:
    player = GMClient("127.0.0.1", cluster.master_port)
    try:
        await player.player.register("plainplayer", PASSWORD)
        with pytest.raises(RpcError) as refused:
            await player.login("plainplayer", PASSWORD)
        assert refused.value.code == "forbidden"
    finally:
        await player.close()
    conn = await connect("127.0.0.1", cluster.settings.server.gm.port)
    try:
        with pytest.raises(RpcError) as anonymous:
            await conn.call("restore_character", "Atlantis", "Anyone")
        assert anonymous.value.code == "auth_required"
        with pytest.raises(RpcError) as forged:
            await conn.call("gm_login", b"x" * 100)
        assert forged.value.code == "bad_ticket"
    finally:
        conn.close()


async def test_gm_restores_a_deleted_character_within_restore_days(cluster: Cluster) -> None:
    owner = GameClient("127.0.0.1", cluster.master_port)
    gm = GMClient("127.0.0.1", cluster.master_port)
    try:
        await owner.register("forgetful", PASSWORD)
        await owner.login("forgetful", PASSWORD)
        await owner.enter_world("Atlantis")
        for name in ("Regretted", "Ancient"):
            await owner.create_character(name)
            await owner.delete_character(name)
        assert await owner.characters() == []
        await backdate_deletion(cluster.database_url("characters"), "Ancient", days=31)

        await make_gm(cluster, "gamewarden")
        welcome = await gm.login("gamewarden", PASSWORD)
        assert welcome.account_name == "gamewarden"

        deleted = {d.name: d for d in await gm.deleted_characters("Atlantis")}
        assert {"Regretted", "Ancient"} <= set(deleted)
        regretted = deleted["Regretted"]
        assert owner.account is not None and regretted.account_id == owner.account.account_id
        deleted_at = datetime.fromisoformat(regretted.deleted_at)
        until = datetime.fromisoformat(regretted.restorable_until)
        assert until - deleted_at == timedelta(days=30)  # restore_days defaults to 30
        assert abs(datetime.now(UTC) - deleted_at) < timedelta(minutes=5)

        with pytest.raises(RpcError) as expired:
            await gm.restore_character("Atlantis", "Ancient")
        assert expired.value.code == "restore_expired"
        restored = await gm.restore_character("Atlantis", "regretted")
        assert (restored.name, restored.account_id) == ("Regretted", owner.account.account_id)
        with pytest.raises(RpcError) as twice:
            await gm.restore_character("Atlantis", "Regretted")
        assert twice.value.code == "no_such_character"

        # the owner has the character back, at a newer version than any save based on before
        assert [c.name for c in await owner.characters()] == ["Regretted"]
        entered = await owner.enter_game("Regretted")
        await owner.wait_for(lambda s: entered.entity_id in s.seen)

        log = await gm.audit_log(20)
        restores = [(e["actor"], e["target"], e["result"], e["address"]) for e in log
                    if e["action"] == "restore_character"]
        assert restores[:3] == [
            ("gm:gamewarden", "Atlantis/Regretted", "failed", "127.0.0.1"),
            ("gm:gamewarden", "Atlantis/Regretted", "ok", "127.0.0.1"),
            ("gm:gamewarden", "Atlantis/Ancient", "failed", "127.0.0.1"),
        ]
        assert any(e["action"] == "gm_login" and e["actor"] == "gm:gamewarden" for e in log)
    finally:
        await gm.close()
        await owner.close()


async def test_a_gm_ticket_works_once(cluster: Cluster) -> None:
    await make_gm(cluster, "onceonly")
    client = GameClient("127.0.0.1", cluster.master_port)
    try:
        await client.login("onceonly", PASSWORD)
        assert client.master is not None
        entry = await client.master.call("gm_ticket")
        first = await connect(entry["host"], entry["port"])
        second = await connect(entry["host"], entry["port"])
        try:
            assert (await first.call("gm_login", entry["ticket"]))["account_name"] == "onceonly"
            with pytest.raises(RpcError) as used:
                await second.call("gm_login", entry["ticket"])
            assert used.value.code == "ticket_used"
        finally:
            first.close()
            second.close()
    finally:
        await client.close()


async def test_store_lists_deleted_and_restores_only_recent_deletions(tmp_path: Path) -> None:
    db = await Database.open(sqlite_url(tmp_path / "characters.db"), schema="characters")
    try:
        store = CharacterStore(db)
        for name in ("Early", "Late"):
            await store.create(1, "avalon", name, "town", 0, 0)
            assert await store.delete(1, "avalon", name)
        await backdate_deletion_in(db, "Early", days=10)
        assert [d.name for d in await store.deleted("avalon")] == ["Late", "Early"]
        assert await store.find_deleted("avalon", "EARLY") is not None
        assert await store.find_deleted("avalon", "Nobody") is None
        since = utcnow() - timedelta(days=5)
        assert await store.restore(1, "avalon", "Early", deleted_since=since) is None
        late = await store.restore(1, "avalon", "Late", deleted_since=since)
        assert late is not None and late.version == 3
        assert [d.name for d in await store.deleted("avalon")] == ["Early"]
    finally:
        await db.close()


async def backdate_deletion_in(db: Database, name: str, days: float) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            update(Character)
            .where(Character.name_key == name_key(name))
            .values(deleted_at=utcnow() - timedelta(days=days))
        )
