"""MasterServer: accounts, login, the world list and world-entry tickets."""
