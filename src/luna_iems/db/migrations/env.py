"""Alembic environment: the connection comes from `luna_iems.db.migrate` (or alembic.ini's URL).

This is the registry of the whole schema: importing every domain's `models` module puts its tables on
`Base.metadata`. It lives here, not in `luna_iems.db`, because the database layer knows no domain
(an import-linter contract in pyproject.toml); a new domain with tables adds its import below.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from luna_iems.admin import models as admin_models
from luna_iems.db.base import Base
from luna_iems.decisions import models as decisions_models
from luna_iems.integrations.devices import models as devices_models
from luna_iems.integrations.dispatch import models as dispatch_models
from luna_iems.integrations.notify import models as notify_models
from luna_iems.integrations.prices import models as prices_models
from luna_iems.knowledge import models as knowledge_models
from luna_iems.tariffs import models as tariffs_models
from luna_iems.telemetry import models as telemetry_models
from luna_iems.telemetry.export import models as export_models
from luna_iems.telemetry.memory import models as memory_models
from luna_iems.telemetry.recommend import models as recommend_models
from luna_iems.timeseries import models as timeseries_models

DOMAIN_MODELS = (
    admin_models,
    decisions_models,
    devices_models,
    dispatch_models,
    export_models,
    knowledge_models,
    memory_models,
    notify_models,
    prices_models,
    recommend_models,
    tariffs_models,
    telemetry_models,
    timeseries_models,
)
metadata = Base.metadata

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: run `luna db upgrade`, which takes DATABASE_URL from settings")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
