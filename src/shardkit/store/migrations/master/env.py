"""Alembic environment of the master schema; run it through shardkit.store.migrate."""

from alembic import context

from shardkit.store.master_tables import MasterBase
from shardkit.store.migrate import run_env

run_env(context, MasterBase.metadata)
