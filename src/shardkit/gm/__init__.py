"""GMServer: game-master accounts, commands and the audit log."""
