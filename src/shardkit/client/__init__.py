"""Client: the player-side library and the terminal client."""
