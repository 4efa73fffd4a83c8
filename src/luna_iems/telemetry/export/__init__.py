"""Telemetry: export (issue 13)."""
