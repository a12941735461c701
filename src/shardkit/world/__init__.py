"""WorldServer: admits ticket-holding clients, manages characters through its daemon, spawns zone processes."""
