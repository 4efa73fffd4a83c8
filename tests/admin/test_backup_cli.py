"""`luna backup` and `luna restore` as an operator runs them: a real subprocess, real exit codes,
one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.test_cli import luna, one_line_error


def test_backup_list_verify_and_restore_from_the_command_line(
    db_kind: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    source = {"DATA_DIR": str(tmp_path / "source"), "DATABASE_URL": fresh_database_url(db_kind)}
    seeded = luna("sim", "backfill", "--days", "1", "--meters", "2", "--no-prices", env=source)
    assert seeded.returncode == 0, seeded.stderr

    made = luna("backup", env=source)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().splitlines()[-1])
    name = path.name
    assert path.parent == tmp_path / "source" / "backups" and (path / "manifest.json").is_file()
    assert f"backup {name}: {db_kind} (" in made.stdout and "0 vectors, 0 files" in made.stdout
    assert name in luna("backup", "list", env=source).stdout
    verified = luna("backup", "verify", name, env=source)
    assert verified.returncode == 0 and "files match their checksums" in verified.stdout

    target = {
        "DATA_DIR": str(tmp_path / "target"),
        "DATABASE_URL": fresh_database_url(db_kind),
        "BACKUP_DIR": str(path.parent),
    }
    restored = luna("restore", name, env=target)
    assert restored.returncode == 0, restored.stderr
    assert f"restored {name}: {db_kind}" in restored.stdout
    counts = [
        json.loads(luna("status", "--json", env=e).stdout)["database"]["row_counts"] for e in (source, target)
    ]
    assert counts[0] == counts[1] and counts[0]["smart_meter_readings"] == 2 * 96

    refused = one_line_error(luna("restore", name, env=target))
    assert "the restore target is not empty: table" in refused and "table meters holds 2 rows" in refused
    assert "--force" in refused
    forced = luna("restore", str(path), "--force", env=target)  # by path, replacing
    assert forced.returncode == 0, forced.stderr

    dump = next((path / "database").iterdir())
    dump.write_bytes(dump.read_bytes()[:-10])
    assert f"checksum mismatch for database/{dump.name}" in one_line_error(
        luna("restore", name, "--force", env=target)
    )
    assert f"database/{dump.name}" in one_line_error(luna("backup", "verify", name, env=source))
    assert "no backup 'nope'" in one_line_error(luna("restore", "nope", env=target))
