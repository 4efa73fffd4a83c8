"""The OpenAPI document is true (issue 9, defects 3 and 10): valid OpenAPI 3.1, every `$ref` resolves,
every error a route can answer is documented in the one error shape, and every number, string and list
a client sends is bounded. tests/e2e/test_fuzz.py then holds the running server to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from luna_iems.main import create_app
from luna_iems.settings import Settings
from tests.conftest import ADMIN_TOKEN, auth

# Bodies the routes read by hand (CSV, XML, telegrams, frames, YAML, uploaded files): their size is
# bounded by LUNA_MAX_UPLOAD_MB (413), their content by the parsers; the schema says "a string".
RAW_BODIES = {"text/csv", "application/xml", "text/plain", "application/octet-stream", "application/yaml"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(_env_file=None)).openapi()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    # The ingest routes parse their JSON bodies by hand; their models are components all the same.
    assert {"#/components/schemas/ReadingBatch", "#/components/schemas/PriceBatch"} <= refs
    missing = []
    for ref in sorted(refs):
        try:
            _resolve(document, ref)
        except (KeyError, TypeError):
            missing.append(ref)
    assert not missing, missing


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises OpenAPIValidationError naming the first problem


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_errors_are_documented_in_the_one_shape(document: dict[str, Any]) -> None:
    problems = []
    for label, operation in _operations(document):
        responses = operation["responses"]
        secured = any(requirement for requirement in operation.get("security", []))
        optional = {} in operation.get("security", [])
        # 422 everywhere: a NUL character in any query string is refused (ops.input_guard).
        expected = {"422"} | ({"401", "403", "503"} if secured and not optional else set())
        if "requestBody" in operation:
            expected |= {"413"}
        if "{" in label:
            expected |= {"404"}
        missing = expected - set(responses)
        if missing:
            problems.append(f"{label}: {sorted(missing)} undocumented")
        for status, response in responses.items():
            if (status.startswith(("4", "5")) and status not in {"503"}) or (status == "503" and secured):
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref") != "#/components/schemas/ErrorResponse" and not optional:
                    problems.append(f"{label} {status}: not the error shape ({schema})")
    assert not problems, "\n".join(problems)


def _unbounded(schema: Any, where: str, document: dict[str, Any], seen: frozenset[str]) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"]
        if name not in seen:
            yield from _unbounded(_resolve(document, name), where, document, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            # A bound beside anyOf (e.g. maxLength on `str | None`) bounds the string branch.
            merged = {k: v for k, v in schema.items() if k not in {"anyOf", "oneOf", "allOf"}} | branch
            yield from _unbounded(merged, where, document, seen)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind in {"integer", "number"}:
        low = "minimum" in schema or "exclusiveMinimum" in schema
        high = "maximum" in schema or "exclusiveMaximum" in schema
        if not (low and high):
            yield f"{where}: {kind} without both bounds"
    elif kind == "string":
        # date, date-time and uuid have a fixed grammar: a long text fails the parser at once
        if "maxLength" not in schema and schema.get("format") not in {"date", "date-time", "uuid", "binary"}:
            yield f"{where}: string without maxLength"
    elif kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from _unbounded(schema.get("items", {}), f"{where}[]", document, seen)
    elif kind == "object" or "properties" in schema:
        for name, child in schema.get("properties", {}).items():
            yield from _unbounded(child, f"{where}.{name}", document, seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                yield f"{where}: object without maxProperties"
            yield from _unbounded(extra, f"{where}.*", document, seen)


def test_every_client_input_is_bounded(document: dict[str, Any]) -> None:
    """Every number has a minimum and a maximum, every string a maxLength (or a format or enum that
    bounds it), every list a maxItems: an absurd value is a 422 naming it, never a 500."""
    problems: list[str] = []
    for label, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{label} {parameter['in']}.{parameter['name']}"
            problems += _unbounded(parameter["schema"], where, document, frozenset())
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if media in RAW_BODIES:
                continue
            schema = content.get("schema", {})
            if media == "multipart/form-data":  # the file part is bounded by the upload limit
                schema = _resolve(document, schema["$ref"]) if "$ref" in schema else schema
                schema = {
                    **schema,
                    "properties": {
                        k: v
                        for k, v in schema.get("properties", {}).items()
                        if v.get("format") != "binary" and "contentMediaType" not in v
                    },
                }
            problems += _unbounded(schema, f"{label} body", document, frozenset())
    assert not problems, "\n".join(problems)


def test_a_row_deleted_under_a_request_is_404_not_500(
    sqlite_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fuzzer: PATCH and DELETE of one meter at once; the UPDATE then matched no row."""
    from sqlalchemy.orm.exc import StaleDataError

    from luna_iems.timeseries import service as timeseries_service

    def deleted_meanwhile(**_: object) -> None:
        raise StaleDataError(
            "UPDATE statement on table 'meters' expected to update 1 row(s); 0 were matched."
        )

    monkeypatch.setattr(timeseries_service, "update_meter", deleted_meanwhile)
    response = sqlite_client.patch("/meters/m1", json={"site": "north"}, headers=auth(ADMIN_TOKEN))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
