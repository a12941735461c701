"""shardkit: an MMO server cluster (master, worlds, zones, characters, GM) on one RPC wire."""

__version__ = "0.1.0"
