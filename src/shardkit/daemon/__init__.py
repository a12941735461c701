"""WorldDaemon: one per world; announces it, supervises its WorldServers, links characters."""
