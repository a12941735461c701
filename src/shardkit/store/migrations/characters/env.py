"""Alembic environment of the characters schema; run it through shardkit.store.migrate."""

from alembic import context

from shardkit.store.character_tables import CharacterBase
from shardkit.store.migrate import run_env

run_env(context, CharacterBase.metadata)
