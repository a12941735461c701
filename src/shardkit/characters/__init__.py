"""CharacterServer: the one store of characters."""
