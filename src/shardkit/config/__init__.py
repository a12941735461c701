"""Cluster configuration: TOML files under serverconfig/, safe defaults, generated secrets."""
