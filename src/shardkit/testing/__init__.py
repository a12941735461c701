"""Helpers that start real shardkit processes for tests and benchmarks."""
