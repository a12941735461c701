"""WorldServer: admits ticket holders, relays their characters to its daemon, runs zone processes."""
