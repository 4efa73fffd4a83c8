"""Scheduled work of the admin domain: a backup every BACKUP_INTERVAL_H hours, keeping BACKUP_KEEP."""

from __future__ import annotations

from luna_iems.admin import backup as backup_service
from luna_iems.admin.deps import AdminDeps
from luna_iems.admin.schemas import BackupRead
from luna_iems.scheduler import Scheduler

JOB_ID = "admin.backups"


def scheduled_backup(deps: AdminDeps) -> tuple[BackupRead, list[str]]:
    """Make a backup, then delete all but the newest BACKUP_KEEP; returns it and the names deleted."""
    settings = deps.settings
    backup_dir = settings.resolved_backup_dir
    created = backup_service.create_backup(
        targets=deps.backup_targets(),
        backup_dir=backup_dir,
        pg_bin_dir=settings.pg_bin_dir,
    )
    # Only after a backup succeeded: a failing one must never cost an older, good one.
    return created, backup_service.prune_backups(backup_dir=backup_dir, keep=settings.backup_keep)


def register(scheduler: Scheduler, deps: AdminDeps) -> None:
    hours = deps.settings.backup_interval_h
    if hours > 0:
        scheduler.every(JOB_ID, hours * 3600, lambda: scheduled_backup(deps))
