"""Telemetry: recommend (issue 13)."""
