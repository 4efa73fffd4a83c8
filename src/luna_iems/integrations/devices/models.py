"""Tables of integrations/devices."""

from __future__ import annotations

from luna_iems.db.base import Base

__all__ = ["Base"]
