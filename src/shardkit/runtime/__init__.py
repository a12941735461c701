"""Process plumbing shared by every component: start-up, signals, logging, child processes."""
