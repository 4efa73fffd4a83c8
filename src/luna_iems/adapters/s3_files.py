"""Object store on any S3 API (MinIO in the compose stack): the production choice for original files.

Selected by `bootstrap.py` when `S3_ENDPOINT_URL` is set. boto3 is an optional extra
(`luna-iems[s3]`) and is imported only here, when the store is built.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from luna_iems.errors import BackendUnavailableError, NotFoundError
from luna_iems.ports import ComponentHealth

_COMPONENT = "object_store"
# Error codes S3 servers use for "no such thing" (HEAD responses carry no body, only the status).
_MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_MISSING_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_BUCKET_ALREADY_THERE_CODES = frozenset({"BucketAlreadyOwnedByYou"})  # not "…Exists": someone else's


class S3ObjectStore:
    """Blobs in one bucket, created on first use. Path-style addressing, so MinIO works as is."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        timeout_s: float,
    ) -> None:
        try:
            import boto3.session
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError as exc:
            raise BackendUnavailableError(
                _COMPONENT, "S3_ENDPOINT_URL is set but boto3 is missing: pip install 'luna-iems[s3]'"
            ) from exc

        self._endpoint_url = endpoint_url
        self._bucket = bucket
        self._region = region
        self._client_error: type[Exception] = ClientError
        self._backend_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        options: dict[str, Any] = {
            "region_name": region,
            "s3": {"addressing_style": "path"},
            "connect_timeout": timeout_s,
            "read_timeout": timeout_s,
            "retries": {"max_attempts": 2},
        }
        if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
            # botocore >= 1.36 sends CRC checksum headers on every upload by default; several
            # S3-compatible servers reject them. Send checksums only where the API requires them.
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        # A private session: no shared global state, credentials only from the arguments
        # (or, when they are None, boto3's usual chain: environment, config files, instance role).
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=Config(**options))
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    # --- helpers -----------------------------------------------------------------------------
    def _code(self, exc: Exception) -> str:
        response: Any = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def _unavailable(self, action: str, exc: Exception) -> BackendUnavailableError:
        return BackendUnavailableError(
            _COMPONENT, f"object store {self._endpoint_url} bucket {self._bucket!r}: {action} failed: {exc}"
        )

    def _ensure_bucket(self, *, recheck: bool = False) -> None:
        if self._bucket_ready and not recheck:
            return
        with self._bucket_lock:
            if self._bucket_ready and not recheck:
                return
            try:
                self._client.head_bucket(Bucket=self._bucket)
            except self._client_error as exc:
                if self._code(exc) not in _MISSING_BUCKET_CODES:
                    raise
                self._create_bucket()
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self._bucket}
        if self._region != "us-east-1":  # the S3 API rejects an explicit us-east-1 constraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            self._client.create_bucket(**kwargs)
        except self._client_error as exc:
            if self._code(exc) not in _BUCKET_ALREADY_THERE_CODES:  # another process won the race
                raise

    def _ready(self, action: str) -> None:
        try:
            self._ensure_bucket()
        except self._backend_errors as exc:
            raise self._unavailable(action, exc) from exc

    # --- ObjectStore ---------------------------------------------------------------------------
    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._ready("put")
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)
        except self._backend_errors as exc:
            raise self._unavailable("put", exc) from exc

    def get(self, key: str) -> bytes:
        self._ready("get")
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except self._client_error as exc:
            if self._code(exc) in _MISSING_KEY_CODES:
                raise NotFoundError(f"object {key!r} not found", details={"key": key}) from exc
            raise self._unavailable("get", exc) from exc
        except self._backend_errors as exc:
            raise self._unavailable("get", exc) from exc
        return data

    def delete(self, key: str) -> None:
        self._ready("delete")
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)  # S3 deletes are idempotent
        except self._backend_errors as exc:
            raise self._unavailable("delete", exc) from exc

    def exists(self, key: str) -> bool:
        self._ready("exists")
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except self._client_error as exc:
            if self._code(exc) in _MISSING_KEY_CODES:
                return False
            raise self._unavailable("exists", exc) from exc
        except self._backend_errors as exc:
            raise self._unavailable("exists", exc) from exc
        return True

    def keys(self, *, prefix: str = "") -> Iterator[str]:
        self._ready("list")
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
            for page in pages:  # S3 lists keys in UTF-8 binary order, 1,000 per page
                for entry in page.get("Contents", []):
                    yield str(entry["Key"])
        except self._backend_errors as exc:
            raise self._unavailable("list", exc) from exc

    def health(self) -> ComponentHealth:
        """Reachable, credentials accepted and the bucket there (created if missing); never raises."""
        info = {"endpoint": self._endpoint_url, "bucket": self._bucket}
        try:
            self._ensure_bucket(recheck=True)  # ask the server, not an earlier answer
        except self._client_error as exc:  # reachable, but refused (credentials, permissions, ...)
            detail = f"bucket {self._bucket!r} not usable: {exc}"
        except Exception as exc:  # a health probe must report, never raise
            detail = f"unreachable: {exc}"
        else:
            return ComponentHealth(name=_COMPONENT, kind="s3", ok=True, info=info)
        return ComponentHealth(name=_COMPONENT, kind="s3", ok=False, detail=detail, info=info)

    def close(self) -> None:
        self._client.close()
