"""Deterministic simulation of smart meters and day-ahead market prices (pure NumPy, no I/O)."""
