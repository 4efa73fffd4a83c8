"""Integrations: dispatch (see integrations/__init__.py)."""
