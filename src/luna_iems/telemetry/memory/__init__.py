"""Telemetry: memory (issue 13)."""
