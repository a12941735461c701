"""WorldImp: agent on another machine that starts WorldServers when its daemon asks."""
