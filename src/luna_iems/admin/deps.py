"""What the admin domain's scheduled work receives from the wiring: built in `bootstrap`, never the
whole `Container`.

The backup job reads the settings (directory, retention, `pg_dump` location) and the backup targets.
The targets are built on call: they include the vector store, which loads its index into memory when
opened, and registering the job must not do that. A new need becomes a field here, built in
`bootstrap.Container.admin_deps`, so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from luna_iems.settings import Settings

if TYPE_CHECKING:  # the backup module (Alembic, dump helpers) loads only when a backup runs
    from luna_iems.admin.backup import BackupTargets


@dataclass(frozen=True)
class AdminDeps:
    settings: Settings
    backup_targets: Callable[[], BackupTargets]
