"""WorldServer: admits ticket holders, relays their characters, runs its zone processes."""
