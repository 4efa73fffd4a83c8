"""Object store on a local directory (the embedded default for original files)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from luna_iems.errors import NotFoundError
from luna_iems.ports import ComponentHealth


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise ValueError(f"object key {key!r} escapes the store")
        return path

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        del content_type
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a crash never leaves half a file behind.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"stored file {key!r} does not exist", details={"key": key}) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, *, prefix: str = "") -> Iterator[str]:
        root = self._root.resolve()
        found = (
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            # `.tmp-` files are writes in progress (or left by a crash): not objects.
            if path.is_file() and not path.name.startswith(".tmp-")
        )
        yield from sorted(key for key in found if key.startswith(prefix))

    def health(self) -> ComponentHealth:
        ok = self._root.is_dir() and os.access(self._root, os.W_OK)
        return ComponentHealth(
            name="object_store",
            kind="local-directory",
            ok=ok,
            detail="" if ok else f"{self._root} is not a writable directory",
            info={"path": str(self._root)},
        )
