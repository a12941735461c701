"""Name rules for characters and guilds: each refusal comes with a reason."""

from __future__ import annotations

import pytest

from shardkit.characters.names import blocked_words, character_name_problem, guild_name_problem


@pytest.mark.parametrize("name", ["Alyx", "Borin", "O'Brien", "Jean-Luc", "abc", "A" * 16])
def test_good_character_names(name: str) -> None:
    assert character_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Al", "3 to 16 characters long"),
        ("A" * 17, "3 to 16 characters long"),
        ("Al yx", "only the letters"),
        ("Alyx2", "only the letters"),
        ("Ålyx", "only the letters"),
        ("-Alyx", "start and end with a letter"),
        ("Alyx'", "start and end with a letter"),
        ("Al--yx", "next to each other"),
        ("admin", "reserved"),
        ("Mod", "reserved"),
        ("Sys-tem", "reserved"),
        ("AdminBob", "looks like a staff name"),
        ("Gamemasterx", "looks like a staff name"),
        ("Fuckface", "offensive"),
        ("Mc'Shit", "offensive"),
        ("Bit-ch", "offensive"),
        ("WHOREson", "offensive"),
        ("Alyx\n", "only the letters"),  # a trailing newline is not the end of the name
        ("Alyx\r\n", "only the letters"),
        ("Alyx\nBob", "only the letters"),
    ],
)
def test_bad_character_names_say_why(name: str, reason: str) -> None:
    problem = character_name_problem(name)
    assert problem is not None and reason in problem, problem


@pytest.mark.parametrize("name", ["Night Watch", "Tide Riders", "O'Neill Clan", "Black-Hand"])
def test_good_guild_names(name: str) -> None:
    assert guild_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Ab", "3 to 24 characters long"),
        ("A" * 25, "3 to 24 characters long"),
        ("Night  Watch", "next to each other"),
        (" Night Watch", "start and end with a letter"),
        ("Night Watch 2", "only the letters"),
        ("Guild", "reserved"),
        ("The Admins", "looks like a staff name"),
        ("Shit Kickers", "offensive"),
        ("Night Watch\n", "only the letters"),
        ("Night\nWatch", "only the letters"),
    ],
)
def test_bad_guild_names_say_why(name: str, reason: str) -> None:
    problem = guild_name_problem(name)
    assert problem is not None and reason in problem, problem


def test_word_list_is_shipped_with_the_package() -> None:
    words = blocked_words()
    assert "fuck" in words and all(w == w.casefold() and w for w in words)
    assert not any(w.startswith("#") for w in words)
