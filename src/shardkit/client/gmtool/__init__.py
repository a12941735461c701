"""The GM tool: an interactive console and a script runner for game masters (shardkit gmtool)."""
