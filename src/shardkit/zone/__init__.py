"""Simulation: one zone process with a fixed tick, movement, area of interest and chat."""
