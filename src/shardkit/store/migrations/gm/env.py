"""Alembic environment of the gm schema (audit log); run it through shardkit.store.migrate."""

from alembic import context

from shardkit.store.gm_tables import GMBase
from shardkit.store.migrate import run_env

run_env(context, GMBase.metadata)
