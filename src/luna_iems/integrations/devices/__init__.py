"""Integrations: devices (see integrations/__init__.py)."""
