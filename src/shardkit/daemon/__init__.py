"""WorldDaemon: one per world; announces it to the master, supervises its WorldServers, routes to the character server."""
