"""The committed openapi.json matches the app: regenerate with `make openapi` after an API change."""

from __future__ import annotations

import json
from pathlib import Path

from luna_iems.main import create_app
from luna_iems.settings import Settings

COMMITTED = Path(__file__).parents[1] / "openapi.json"


def test_openapi_document_has_not_drifted() -> None:
    current = create_app(Settings(_env_file=None)).openapi()
    committed = json.loads(COMMITTED.read_text())
    assert current == committed, "openapi.json is stale: run `make openapi` and commit the result"


def test_both_key_schemes_are_documented() -> None:
    schemes = create_app(Settings(_env_file=None)).openapi()["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
