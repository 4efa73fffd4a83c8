"""The embedded object store: atomic writes, no path escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from luna_iems.adapters.local_files import LocalObjectStore


def test_put_get_delete(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "files")
    store.put("items/a/v1.pdf", b"%PDF-1.7 data", content_type="application/pdf")
    assert store.exists("items/a/v1.pdf") and store.get("items/a/v1.pdf") == b"%PDF-1.7 data"
    assert not [p for p in (tmp_path / "files" / "items" / "a").iterdir() if p.name.startswith(".tmp-")]
    store.delete("items/a/v1.pdf")
    assert not store.exists("items/a/v1.pdf")
    store.delete("items/a/v1.pdf")  # deleting twice is fine
    assert store.health().ok


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "files")
    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside.txt", b"x", content_type="text/plain")
    assert not (tmp_path / "outside.txt").exists()
