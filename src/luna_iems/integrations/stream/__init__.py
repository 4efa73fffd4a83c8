"""Integrations: the live stream (`GET /stream/readings`, Server-Sent Events) of new readings, alerts and
dispatched setpoints, for the dashboard and integrators (see service.py)."""
