"""Telemetry: events (issue 13)."""
