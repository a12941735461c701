"""Admin consoles: telnet (master manhole, daemon) and SSH (world server) over one shell."""
