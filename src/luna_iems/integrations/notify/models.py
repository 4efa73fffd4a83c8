"""Tables of integrations/notify."""

from __future__ import annotations

from luna_iems.db.base import Base

__all__ = ["Base"]
