"""Integrations: notify (see integrations/__init__.py)."""
