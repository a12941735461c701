"""Admin consoles: telnet (master manhole, daemon) and SSH (world server), guarded by user, password and allowed IPs."""
