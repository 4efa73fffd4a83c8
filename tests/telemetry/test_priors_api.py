"""POST /learn/priors on SQLite and PostgreSQL: a signed export's bandit statistics become priors of
the real bandit (weight LEARN_PRIOR_WEIGHT), the signature is checked first (tampered: 422 naming the
signature, nothing changes), untrusted keys are refused naming their fingerprint (until listed in
LEARN_TRUSTED_KEYS), and a replay of the same export, however re-formatted, counts once."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.admin.models import AuditLog
from luna_iems.main import create_app
from luna_iems.telemetry.export import signing
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.bandits import BanditSnapshot
from tests.conftest import make_settings
from tests.telemetry.events_support import ADMIN, session_of
from tests.telemetry.export_support import export, read_export, seed, set_privacy

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path, database_url: str) -> Iterator[ClientFactory]:
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            settings = make_settings(tmp_path, database_url=database_url, **overrides)
            return stack.enter_context(TestClient(create_app(settings)))

        yield make


def state(client: TestClient) -> BanditSnapshot:
    with session_of(client) as session:
        return recommend_service.bandit_state(session)


def post_priors(client: TestClient, document: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    response = client.post("/learn/priors", json=document, headers=ADMIN)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def own_export(client: TestClient) -> dict[str, Any]:
    seed(client)
    set_privacy(client, True)
    return read_export(export(client))


def test_an_own_export_is_imported_once_with_the_configured_weight(make_client: ClientFactory) -> None:
    client = make_client(learn_prior_weight=0.5)
    document = own_export(client)
    before = state(client)
    body = post_priors(client, document)
    assert body["imported"] is True and body["weight"] == 0.5
    assert body["key_fingerprint"] == signing.verify(document).key_fingerprint
    after = state(client)
    for arm in before.arms:
        assert after.n[arm] == before.n[arm] + round(0.5 * document["bandit"]["n"][arm])
        assert after.reward_sum[arm] == pytest.approx(
            before.reward_sum[arm] + 0.5 * document["bandit"]["reward_sum"][arm]
        )

    # The same export again, even re-ordered: nothing changes.
    replay = dict(reversed(list(document.items())))
    again = post_priors(client, replay)
    assert again["imported"] is False and again["digest_sha256"] == body["digest_sha256"]
    assert state(client) == after
    with session_of(client) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.method == "PRIORS")))
    assert [("already imported" in r.path) for r in rows] == [False, True]


def test_a_tampered_export_is_refused_before_anything_changes(make_client: ClientFactory) -> None:
    client = make_client()
    document = own_export(client)
    before = state(client)
    arm = document["bandit"]["arms"][0]
    for tamper in (
        lambda d: d["bandit"]["n"].__setitem__(arm, d["bandit"]["n"][arm] + 1000),
        lambda d: d["metrics"]["events"]["document"].__setitem__("view", 0),
        lambda d: d.__setitem__("period", {"from": "2020-01-01T00:00:00+00:00", "to": d["period"]["to"]}),
    ):
        changed = copy.deepcopy(document)
        tamper(changed)
        body = post_priors(client, changed, expect=422)
        assert body["error"]["details"]["field"] == "signature"
        assert "does not verify" in body["error"]["message"]
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    assert post_priors(client, unsigned, expect=422)["error"]["details"]["field"] == "signature"
    assert state(client) == before


def test_an_untrusted_key_is_refused_naming_its_fingerprint(make_client: ClientFactory) -> None:
    client = make_client()
    document = own_export(client)
    payload = {k: v for k, v in document.items() if k not in signing.SIGNATURE_FIELDS}
    foreign = signing.sign(payload, Ed25519PrivateKey.generate())
    fingerprint = signing.fingerprint(foreign["public_key"])
    body = post_priors(client, foreign, expect=422)
    assert fingerprint in body["error"]["message"] and "LEARN_TRUSTED_KEYS" in body["error"]["message"]
    assert body["error"]["details"] == {"field": "public_key", "key_fingerprint": fingerprint}

    # Trusted by fingerprint (or by the base64 key): imported.
    trusting = make_client(learn_trusted_keys=f"some-other-key, {fingerprint}")
    assert post_priors(trusting, foreign)["imported"] is True
    trusting_by_key = make_client(learn_trusted_keys=foreign["public_key"])
    assert post_priors(trusting_by_key, foreign)["imported"] is False  # same database: already imported


def test_an_export_without_bandit_statistics_is_422(make_client: ClientFactory) -> None:
    client = make_client()
    seed(client, rewards=2)
    set_privacy(client, True)
    document = read_export(export(client, include_bandit=False))
    assert document["bandit"] is None
    body = post_priors(client, document, expect=422)
    assert body["error"]["details"]["field"] == "bandit"
    assert "include_bandit" in body["error"]["message"]


def test_a_signed_export_of_a_different_feature_space_is_422(make_client: ClientFactory) -> None:
    client = make_client()
    document = own_export(client)
    payload = copy.deepcopy({k: v for k, v in document.items() if k not in signing.SIGNATURE_FIELDS})
    payload["bandit"]["features"] = [*payload["bandit"]["features"], "extra"]
    key = signing.load_or_create_key(client.app.state.container.settings.data_dir)  # type: ignore[attr-defined]
    body = post_priors(client, signing.sign(payload, key), expect=422)
    assert body["error"]["details"]["field"] == "features"
    with session_of(client) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.method == "PRIORS")))
    assert rows == []
    assert post_priors(client, document)["imported"] is True  # nothing of the refused one was stored
