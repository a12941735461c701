"""Content files: the shipped starter world loads; broken content is refused naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shardkit.content import DEFAULT_CONTENT, ContentError, load_content


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_starter_content_has_connected_zones_npcs_and_items() -> None:
    content = load_content(DEFAULT_CONTENT)
    assert {"town", "meadow", "harbor"} <= set(content.zones)
    links = {(name, p.target_zone) for name, zone in content.zones.items() for p in zone.portals}
    assert {("town", "meadow"), ("meadow", "town"), ("town", "harbor"), ("harbor", "town")} <= links
    assert not content.zone("town").npcs  # the town is safe
    for wild in ("meadow", "harbor"):
        assert sum(spawn.count for spawn in content.zone(wild).npcs) > 0
    assert all(content.npcs[kind].loot in content.loot for kind in content.npcs)
    assert content.items
    # the point a WorldServer creates characters at lies in the zone's spawn area
    for zone in content.zones.values():
        assert zone.spawn_rect.contains(*zone.spawn)


def test_a_zone_with_nothing_but_a_name_gets_defaults(content_copy: Path) -> None:
    path = content_copy / "zones.toml"
    path.write_text(path.read_text() + "\n[zones.cellar]\n")
    cellar = load_content(content_copy).zone("cellar")
    assert cellar.spawn_rect.inside(cellar.width, cellar.height)
    assert cellar.spawn_rect.contains(*cellar.spawn)


def test_unknown_key_is_named_with_its_file(content_copy: Path) -> None:
    edit(content_copy / "npcs.toml", "[npcs.wolf]\n", "[npcs.wolf]\nbite = 3\n")
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    message = str(error.value)
    assert "npcs.toml" in message and "bite" in message and "npcs.wolf" in message


def test_wrong_type_is_named_with_its_key(content_copy: Path) -> None:
    edit(content_copy / "items.toml", 'value = 5', 'value = "five"')
    with pytest.raises(ContentError, match=r"items\.toml.*items\.wolf_pelt\.value"):
        load_content(content_copy)


def test_portal_to_a_missing_zone(content_copy: Path) -> None:
    edit(content_copy / "zones.toml", 'target_zone = "harbor"', 'target_zone = "atlantis"')
    with pytest.raises(
        ContentError,
        match=r"zones\.toml: zones\.town\.portals\[1\].*target_zone: no zone named 'atlantis'",
    ):
        load_content(content_copy)


def test_portal_target_outside_the_target_zone(content_copy: Path) -> None:
    edit(content_copy / "zones.toml", "target = [60.0, 1000.0]", "target = [60.0, 3000.0]")
    with pytest.raises(
        ContentError, match=r"zones\.town\.portals\[0\].*target: .*outside zone 'meadow'"
    ):
        load_content(content_copy)


def test_portal_target_inside_a_portal_back_would_bounce(content_copy: Path) -> None:
    edit(content_copy / "zones.toml", "target = [930.0, 500.0]", "target = [980.0, 500.0]")
    with pytest.raises(
        ContentError, match=r"zones\.meadow\.portals\[0\].*inside portal 'east gate'"
    ):
        load_content(content_copy)


def test_missing_loot_table_and_item(content_copy: Path) -> None:
    edit(content_copy / "npcs.toml", 'loot = "crab"', 'loot = "treasure"')
    edit(content_copy / "items.toml", 'item = "crab_shell"', 'item = "pearl"')
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    message = str(error.value)
    assert "npcs.toml: npcs.crab.loot: no loot table 'treasure'" in message
    assert "items.toml: loot.crab.items[0].item: no item 'pearl'" in message


def test_unknown_npc_kind_and_area_outside_the_zone(content_copy: Path) -> None:
    zones = content_copy / "zones.toml"
    edit(zones, 'kind = "crab"', 'kind = "kraken"')
    edit(zones, "area = { x = 50.0, y = 400.0, width = 700.0, height = 150.0 }",
         "area = { x = 50.0, y = 400.0, width = 700.0, height = 250.0 }")
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    message = str(error.value)
    assert "zones.harbor.npcs[0].kind: no NPC kind 'kraken'" in message
    assert "zones.harbor.npcs[0].area" in message and "outside the zone" in message


def test_zone_too_large_for_the_sync_format(content_copy: Path) -> None:
    edit(content_copy / "zones.toml", "width = 2000.0", "width = 5000.0")
    with pytest.raises(ContentError, match=r"zones\.meadow\.width: 5000.0 is not within 1\.\.4095"):
        load_content(content_copy)


def test_bad_chance_and_level_curve(content_copy: Path) -> None:
    edit(content_copy / "items.toml", "chance = 0.6", "chance = 1.6")
    edit(content_copy / "players.toml", "level_xp = [100, 300,", "level_xp = [300, 100,")
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    message = str(error.value)
    assert "loot.wolf.items[0].chance: 1.6 is not within 0..1" in message
    assert "players.toml: players.level_xp" in message


def test_missing_zones_file(tmp_path: Path) -> None:
    (tmp_path / "npcs.toml").write_text("")
    with pytest.raises(ContentError, match="zones.toml is missing"):
        load_content(tmp_path)
