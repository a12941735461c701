"""shardkit: an MMO server cluster (master, world daemons, world servers, zones, characters, GM) over one MessagePack-RPC wire."""

__version__ = "0.1.0"
