"""Import every domain's tables so that `Base.metadata` knows the whole schema (Alembic, tests)."""

from luna_iems.admin import models as admin_models
from luna_iems.db.base import Base
from luna_iems.decisions import models as decisions_models
from luna_iems.knowledge import models as knowledge_models
from luna_iems.telemetry import models as telemetry_models
from luna_iems.timeseries import models as timeseries_models

metadata = Base.metadata

__all__ = [
    "admin_models",
    "decisions_models",
    "knowledge_models",
    "metadata",
    "telemetry_models",
    "timeseries_models",
]
