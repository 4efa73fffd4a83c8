"""The S3 object store, and one contract for every ObjectStore (local directory and S3).

MinIO cannot run here. The S3 tests run against moto's `ThreadedMotoServer` on a free loopback
port instead: it speaks the S3 REST wire protocol over HTTP, so the product's real boto3 client code
(path-style requests, SigV4 signing, error parsing) runs end to end. Each test uses its own bucket,
so one server serves the whole module.
"""

from __future__ import annotations

import re
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3.session
import pytest
from moto.server import ThreadedMotoServer

from luna_iems.adapters.local_files import LocalObjectStore
from luna_iems.adapters.s3_files import S3ObjectStore
from luna_iems.bootstrap import build_container
from luna_iems.errors import BackendUnavailableError, NotFoundError
from luna_iems.ports import ObjectStore
from luna_iems.settings import Settings

BINARY = bytes(range(256)) * 64 + b"\x00\r\n\xff"  # every byte value, NULs and line endings included


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bucket() -> str:
    return f"luna-test-{uuid.uuid4().hex[:12]}"


S3Factory = Callable[..., S3ObjectStore]


@pytest.fixture
def make_s3_store(moto_url: str) -> Iterator[S3Factory]:
    made: list[S3ObjectStore] = []

    def factory(**overrides: Any) -> S3ObjectStore:
        options: dict[str, Any] = {
            "endpoint_url": moto_url,
            "bucket": _bucket(),
            "access_key": "test",
            "secret_key": "test",
            "timeout_s": 5.0,
        }
        options.update(overrides)
        store = S3ObjectStore(**options)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def raw_s3(moto_url: str) -> Iterator[Any]:
    """An independent boto3 client, to check what the store did from the outside."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client = session.client("s3", endpoint_url=moto_url)
    yield client
    client.close()


@pytest.fixture(params=["local-directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The contract every ObjectStore keeps."""
    if request.param == "local-directory":
        return LocalObjectStore(tmp_path / "files")
    make: S3Factory = request.getfixturevalue("make_s3_store")
    return make()


# --- the contract ------------------------------------------------------------------------------
def test_round_trip_with_binary_content(store: ObjectStore) -> None:
    key = "items/a/v1.pdf"
    assert not store.exists(key)
    store.put(key, BINARY, content_type="application/pdf")
    assert store.exists(key)
    assert store.get(key) == BINARY
    store.put(key, b"%PDF-1.7 replaced", content_type="application/pdf")  # overwrite
    assert store.get(key) == b"%PDF-1.7 replaced"
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice (or a key never written) is fine


def test_keys_with_spaces_and_non_ascii_characters(store: ObjectStore) -> None:
    key = "items/Übersicht 2026/Prüfbericht (v2).txt"
    store.put(key, "Zählerstand: 42 kWh".encode(), content_type="text/plain; charset=utf-8")
    assert store.exists(key) and store.get(key) == "Zählerstand: 42 kWh".encode()
    assert not store.exists("items/Übersicht 2026")  # a prefix is not an object


def test_keys_lists_every_object_in_order_and_by_prefix(store: ObjectStore) -> None:
    assert list(store.keys()) == []
    keys = ["items/b/v1/x.txt", "items/a/v2/Prüfbericht (v2).pdf", "other/z.bin", "items/a/v1/y.txt"]
    for key in keys:
        store.put(key, key.encode(), content_type="application/octet-stream")
    assert list(store.keys()) == sorted(keys)
    assert list(store.keys(prefix="items/a/")) == ["items/a/v1/y.txt", "items/a/v2/Prüfbericht (v2).pdf"]
    store.delete("other/z.bin")
    assert "other/z.bin" not in list(store.keys())


def test_get_missing_key_raises_naming_it(store: ObjectStore) -> None:
    with pytest.raises(NotFoundError, match=re.escape("nope/missing.bin")):
        store.get("nope/missing.bin")


def test_health_is_ok(store: ObjectStore) -> None:
    health = store.health()
    assert health.ok and health.name == "object_store" and health.detail == ""


# --- S3 specifics ------------------------------------------------------------------------------
def test_get_missing_key_is_a_domain_not_found(make_s3_store: S3Factory) -> None:
    store = make_s3_store()
    with pytest.raises(NotFoundError, match=re.escape("'items/missing.pdf'")) as info:
        store.get("items/missing.pdf")
    assert info.value.status_code == 404 and info.value.details == {"key": "items/missing.pdf"}


def test_bucket_is_created_on_first_use(make_s3_store: S3Factory, raw_s3: Any) -> None:
    store = make_s3_store()
    assert store.bucket not in {b["Name"] for b in raw_s3.list_buckets()["Buckets"]}  # no I/O in __init__
    store.put("a.csv", b"ts,kwh\n", content_type="text/csv")
    assert store.bucket in {b["Name"] for b in raw_s3.list_buckets()["Buckets"]}
    head = raw_s3.head_object(Bucket=store.bucket, Key="a.csv")
    assert head["ContentType"] == "text/csv" and head["ContentLength"] == 7
    # A second store on the existing bucket (e.g. the next process) uses it as it is.
    again = make_s3_store(bucket=store.bucket)
    assert again.health().ok and again.get("a.csv") == b"ts,kwh\n"


def test_bucket_outside_us_east_1_gets_a_location_constraint(make_s3_store: S3Factory, raw_s3: Any) -> None:
    store = make_s3_store(region="eu-central-1")
    store.put("x", b"x", content_type="application/octet-stream")
    location = raw_s3.get_bucket_location(Bucket=store.bucket)["LocationConstraint"]
    assert location == "eu-central-1"


def test_health_reports_endpoint_and_bucket_and_creates_the_bucket(
    make_s3_store: S3Factory, raw_s3: Any, moto_url: str
) -> None:
    store = make_s3_store()
    health = store.health()
    assert health.ok and health.kind == "s3"
    assert dict(health.info) == {"endpoint": moto_url, "bucket": store.bucket}
    raw_s3.head_bucket(Bucket=store.bucket)  # readiness proved the bucket usable by making it


def test_health_is_not_ok_and_does_not_raise_when_the_endpoint_is_down(make_s3_store: S3Factory) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    store = make_s3_store(endpoint_url=url, timeout_s=1.0)
    health = store.health()
    assert not health.ok and health.kind == "s3"
    assert "unreachable" in health.detail and url in health.detail
    assert dict(health.info) == {"endpoint": url, "bucket": store.bucket}
    with pytest.raises(BackendUnavailableError) as info:
        store.put("a", b"a", content_type="text/plain")
    assert info.value.component == "object_store" and info.value.status_code == 503


def test_health_is_not_ok_when_the_server_refuses_the_bucket(make_s3_store: S3Factory) -> None:
    store = make_s3_store(bucket="lu")  # S3 bucket names have 3 to 63 characters
    health = store.health()
    assert not health.ok and "not usable" in health.detail and "InvalidBucketName" in health.detail
    with pytest.raises(BackendUnavailableError):
        store.put("a", b"a", content_type="text/plain")


def test_bootstrap_picks_s3_when_the_endpoint_is_set(tmp_path: Path, moto_url: str) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        s3_endpoint_url=moto_url,
        s3_bucket=_bucket(),
        s3_access_key="test",  # type: ignore[arg-type]
        s3_secret_key="test",  # type: ignore[arg-type]
    )
    container = build_container(settings)
    try:
        store = container.object_store
        assert isinstance(store, S3ObjectStore) and store.bucket == settings.s3_bucket
        assert store in container.health_checks()
        store.put("items/x/v1.bin", BINARY, content_type="application/octet-stream")
        assert store.get("items/x/v1.bin") == BINARY
        assert not (tmp_path / "files").exists()  # nothing went to the local directory
    finally:
        store.close()
        container.close()


def test_bootstrap_keeps_the_local_directory_without_an_endpoint(tmp_path: Path) -> None:
    container = build_container(Settings(_env_file=None, data_dir=tmp_path))
    try:
        assert isinstance(container.object_store, LocalObjectStore)
        assert container.object_store.health().kind == "local-directory"
    finally:
        container.close()


def test_missing_boto3_is_a_clear_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` now raises ImportError
    monkeypatch.setitem(sys.modules, "boto3.session", None)
    with pytest.raises(BackendUnavailableError, match=re.escape("pip install 'luna-iems[s3]'")) as info:
        S3ObjectStore(
            endpoint_url="http://127.0.0.1:9", bucket="b", access_key="t", secret_key="t", timeout_s=1
        )
    assert info.value.component == "object_store"
