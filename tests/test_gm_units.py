"""The GM parts without a cluster: who may do what, rate limits, gold and items, the audit log's
queries and exports, GM world scopes in the store, and the tool's command lines."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from shardkit.characters.gm_items import apply_changes, check_changes, item_counts
from shardkit.characters.gm_schemas import ItemCount
from shardkit.client.gmtool.commands import COMMANDS, Line, UsageError, amounts, duration
from shardkit.client.gmtool.console import GMTool, help_text
from shardkit.client.gmtool.export import FIELDS, csv_header, csv_rows, json_lines
from shardkit.config.settings import GMRateLimits, RateLimit
from shardkit.gm.access import RULES, Caller
from shardkit.gm.audit_book import AuditBook
from shardkit.gm.limits import CommandLimits
from shardkit.gm.schemas import AuditQuery, AuditRow
from shardkit.store.accounts import AccountStore
from shardkit.store.audit import AuditFilter, AuditStore
from shardkit.store.character_types import CharacterState
from shardkit.store.database import Database
from shardkit.store.game_masters import GameMasterStore
from shardkit.store.testing import PostgresUnavailable, fresh_database_url
from shardkit.wire.rpc import RpcError
from shardkit.zone.progress import inventory_of, items_of


def caller(role: str, *worlds: str) -> Caller:
    return Caller(7, "Gwen", role, frozenset(worlds), "127.0.0.1")


def refusal(action: object, *args: object) -> str:
    with pytest.raises(RpcError) as caught:
        action(*args)  # type: ignore[operator]
    assert caught.value.code == "forbidden"
    return caught.value.message


# ------------------------------------------------------------------ access


def test_each_command_needs_its_role_and_an_admin_may_do_all() -> None:
    admin_only = {name for name, rule in RULES.items() if rule.role == "admin"}
    assert admin_only == {"game_masters", "set_role", "set_worlds"}
    for name in RULES:
        caller("admin").require(name)
        if name in admin_only:
            assert refusal(caller("gm").require, name) == f"{name} is for admins; Gwen is a gm"
        else:
            caller("gm").require(name)
        assert "is for" in refusal(caller("player").require, name)
    assert refusal(caller("player").require_game_master) == "Gwen is not a game master any more"
    assert {RULES[n].limit for n in ("ban", "unban", "grant", "take", "kick")} \
        == {"ban", "grant", "kick"}


def test_a_gm_limited_to_worlds_and_never_on_an_admin() -> None:
    lem = caller("gm", "Lemuria")
    assert lem.limited and lem.may_reach("Lemuria") and not lem.may_reach("Atlantis")
    assert lem.reachable(["Atlantis", "Lemuria"]) == ["Lemuria"]
    assert refusal(lem.require_world, "Atlantis") \
        == "world Atlantis is outside the worlds of Gwen (Lemuria)"
    assert refusal(lem.require_world, "Atlantis", "Atlantis/Bob") \
        == "Atlantis/Bob is in world Atlantis outside the worlds of Gwen (Lemuria)"
    assert refusal(lem.require_every_world, "a ban") \
        == "a ban reaches every world; Gwen is limited to Lemuria"
    for free in (caller("gm"), caller("admin", "Lemuria")):  # no worlds; an admin is never limited
        assert not free.limited
        free.require_world("Atlantis")
        free.require_every_world("a ban")
    assert refusal(caller("gm").require_not_admin, "admin", "Atlantis/Boss") \
        == "Atlantis/Boss belongs to an admin; a gm cannot act on an admin"
    caller("gm").require_not_admin("gm", "Atlantis/Other")
    caller("admin").require_not_admin("admin", "Atlantis/Boss")
    assert caller("admin").actor == "gm:Gwen"


def test_rate_limits_are_per_game_master_and_per_kind() -> None:
    now = [0.0]
    limits = CommandLimits(GMRateLimits(ban=RateLimit(2, 6.0)), clock=lambda: now[0])
    assert limits.kinds == ["ban", "grant", "kick"]
    limits.spend("ban", 1)
    limits.spend("ban", 1)
    with pytest.raises(RpcError) as limited:
        limits.spend("ban", 1)
    assert (limited.value.code, limited.value.message) \
        == ("rate_limited", "too many ban commands; try again in 10 s")
    limits.spend("ban", 2)  # another game master
    limits.spend("grant", 1)  # another kind
    now[0] = 10.0  # 6 a minute: one more every 10 s
    limits.spend("ban", 1)
    with pytest.raises(RpcError):
        limits.spend("ban", 1)


# ------------------------------------------------------------------- items


def state(gold: int, inventory: list[object]) -> CharacterState:
    return CharacterState(1, 1, "Atlantis", "Bob", "town", 0, 0, gold=gold,
                          inventory=list(inventory), version=4)


def test_gold_and_items_change_never_below_zero_and_odd_entries_stay() -> None:
    odd = ["torch", {"item": "x"}]
    before = state(10, [odd[0], {"item": "wolf_pelt", "count": 2}, odd[1]])
    after = apply_changes(before, 5, [ItemCount("wolf_pelt", -2), ItemCount("boar_tusk", 3)])
    assert after.gold == 15 and after.version == 4
    assert after.inventory == ["torch", {"item": "x"}, ["boar_tusk", 3]]  # the zone's pairs
    assert before.inventory[1] == {"item": "wolf_pelt", "count": 2}  # not changed in place
    assert item_counts(after.inventory) == [ItemCount("boar_tusk", 3)]
    for gold, items in ((-11, []), (0, [ItemCount("wolf_pelt", -3)])):
        with pytest.raises(RpcError) as short:
            apply_changes(before, gold, items)
        assert short.value.code == "not_enough"
    known = {"wolf_pelt"}
    check_changes(5, [ItemCount("wolf_pelt", -1)], known)
    for gold, items, code in ((0, [], "bad_params"), (0, [ItemCount("moon", 1)], "no_such_item"),
                              (0, [ItemCount("wolf_pelt", 0)], "bad_params"),
                              (2**63, [], "bad_params")):
        with pytest.raises(RpcError) as bad:
            check_changes(gold, items, known)
        assert bad.value.code == code


def test_an_inventory_the_zone_saved_is_read_and_kept_in_its_format() -> None:
    zone_saved = state(0, inventory_of({"wolf_pelt": 2, "boar_tusk": 1}))
    assert item_counts(zone_saved.inventory) == [ItemCount("boar_tusk", 1),
                                                 ItemCount("wolf_pelt", 2)]
    after = apply_changes(zone_saved, 0, [ItemCount("wolf_pelt", -1), ItemCount("token", 4)])
    assert after.inventory == [["boar_tusk", 1], ["wolf_pelt", 1], ["token", 4]]
    assert items_of(after.inventory) == {"boar_tusk": 1, "wolf_pelt": 1, "token": 4}
    with pytest.raises(RpcError) as short:
        apply_changes(zone_saved, 0, [ItemCount("boar_tusk", -2)])
    assert short.value.code == "not_enough"


# ------------------------------------------------------------------- stores


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend (PostgreSQL skipped where it is not running)."""
    try:
        url, cleanup = await fresh_database_url(request.param, tmp_path)
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        yield url
    finally:
        await cleanup()


async def test_audit_queries_filter_page_and_export(db_url: str) -> None:
    db = await Database.open(db_url, schema="gm")
    try:
        store = AuditStore(db)
        await store.record("gm:Gwen", "kick", "Atlantis/Bob", {"reason": 'say "hi", then\nleave'},
                           address="10.0.0.1")
        await store.record("gm:Lem", "ban", "account:bob", {"error": "forbidden"},
                           address="10.0.0.2", result="refused")
        await store.record("characters", "rename", "Lemuria/Bob", {})
        await store.record("gm:Gwen", "who", "*", {"found": 0}, address="10.0.0.1")

        async def targets(**where: object) -> list[str | None]:
            return [e.target for e in await store.query(AuditFilter(**where))]  # type: ignore[arg-type]

        assert await targets(actor="gm:Gwen") == ["*", "Atlantis/Bob"]
        assert await targets(target="bob") == ["Lemuria/Bob", "Atlantis/Bob"]  # any world
        assert await targets(target="ATLANTIS/BOB") == ["Atlantis/Bob"]
        assert await targets(target="account:Bob") == ["account:bob"]
        assert await targets(target="%") == []  # a LIKE pattern is only text
        assert await targets(action="ban") == ["account:bob"]
        future = datetime.now(UTC) + timedelta(hours=1)
        assert await targets(since=future) == [] and len(await targets(until=future)) == 4
        refused = (await store.query(AuditFilter(action="ban")))[0]
        assert (refused.address, refused.result) == ("10.0.0.2", "refused")

        book = AuditBook(store)
        first = await book.page(AuditQuery(limit=3))
        assert [e.action for e in first.entries] == ["who", "rename", "ban"]
        second = await book.page(AuditQuery(before_id=first.next_before, limit=3))
        assert [e.action for e in second.entries] == ["kick"] and second.next_before == 0
        assert (await book.page(AuditQuery(since="2000-01-01T00:00:00"))).next_before == 0
        with pytest.raises(RpcError) as bad_time:
            await book.page(AuditQuery(since="yesterday"))
        assert bad_time.value.code == "bad_params"

        rows = first.entries + second.entries
        parsed = list(csv.DictReader(io.StringIO(csv_header() + csv_rows(rows))))
        assert list(parsed[0]) == list(FIELDS) and len(parsed) == 4
        kick = parsed[3]
        assert (kick["actor"], kick["address"], kick["target"], kick["result"]) \
            == ("gm:Gwen", "10.0.0.1", "Atlantis/Bob", "ok")
        assert json.loads(kick["detail"]) == {"reason": 'say "hi", then\nleave'}
        assert parsed[1]["address"] == ""  # the character server's event has none
        lines = [msgspec.json.decode(line, type=AuditRow)
                 for line in json_lines(rows).splitlines()]
        assert lines == rows
    finally:
        await db.close()


async def test_game_masters_roles_and_worlds_in_the_master_store(db_url: str) -> None:
    db = await Database.open(db_url, schema="master")
    try:
        accounts = AccountStore(db)
        ids = [(await accounts.create(name, b"s", b"k", b"v", 4096, role)).id
               for name, role in (("Gwen", "gm"), ("Ada", "admin"), ("Pat", "player"))]
        store = GameMasterStore(db)
        await store.set_worlds(ids[0], ["Lemuria", "Atlantis", "Lemuria"])
        found = await store.get([*ids, 999])
        assert sorted(found) == ids
        assert (found[ids[0]].role, found[ids[0]].worlds) == ("gm", ("Atlantis", "Lemuria"))
        assert [g.name for g in await store.game_masters(10)] == ["Ada", "Gwen"]
        assert await store.set_role(ids[0], "player")
        assert (await store.get([ids[0]]))[ids[0]].worlds == ()  # a player keeps no worlds
        assert not await store.set_role(999, "gm")
        with pytest.raises(ValueError):
            await store.set_role(ids[2], "emperor")
    finally:
        await db.close()


# ---------------------------------------------------------------------- tool


def test_the_tools_command_lines() -> None:
    assert amounts(["50", "gold", "2", "wolf_pelt", "3", "Gold"]) \
        == (53, [ItemCount("wolf_pelt", 2)])
    for bad in (["gold"], ["x", "gold"], ["0", "gold"], []):
        with pytest.raises(UsageError):
            amounts(bad)
    assert duration("15m", permanent_ok=False) == 900
    assert duration("perm", permanent_ok=True) is None
    for bad in ("perm", "15", "0s", "1y"):
        with pytest.raises(UsageError):
            duration(bad, permanent_ok=False)
    line = Line.parse(["Bob", "world=Atlantis", "zone=town", "a=b"], frozenset({"world"}))
    assert line.words == ["Bob", "zone=town", "a=b"] and line.options == {"world": "Atlantis"}
    assert "kick <character|account> <reason...>" in help_text("kick")
    assert all(name in help_text() for name in COMMANDS)


async def test_wrong_command_lines_never_reach_the_server() -> None:
    tool = GMTool(client=None)  # type: ignore[arg-type]
    for text, said in (("frobnicate", "no command 'frobnicate'; type help"),
                       ("kick Bob", "usage: kick <character|account> <reason...>"),
                       ("inspect", "usage: inspect <character> [world=W]"),
                       ('who "unclosed', "cannot read that line")):
        with pytest.raises(UsageError) as wrong:
            await tool.run_line(text)
        assert str(wrong.value).startswith(said)
    assert await tool.run_line("   ") == ""


class RecordingApi:
    """Stands in for GMApi: records which method the tool called, with what."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def __getattr__(self, method: str) -> object:
        async def call(*args: object) -> None:
            self.calls.append((method, *args))
        return call


async def test_teleport_me_is_the_game_masters_own_character() -> None:
    api = RecordingApi()
    teleport = COMMANDS["teleport"]
    for words in (["me", "town", "10", "20"], ["Bob", "to", "me"], ["me", "to", "Bob"],
                  ["Bob", "meadow", "5", "6", "world=Atlantis"]):
        await teleport.run(api, Line.parse(words, teleport.keys))  # type: ignore[arg-type]
    assert api.calls == [("teleport", "", "town", 10.0, 20.0, ""), ("summon", "Bob", ""),
                         ("teleport_to", "", "Bob", ""),
                         ("teleport", "Bob", "meadow", 5.0, 6.0, "Atlantis")]
