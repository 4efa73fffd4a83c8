"""What FastAPI cannot generate on its own for the OpenAPI document: bodies that routes parse themselves.

The ingest routes read their body by hand (JSON, CSV, XML or multipart on one path, and a fast path for
large JSON batches), so FastAPI never sees their pydantic models. `body_ref(Model)` documents such a
body by reference and registers the model; `DocumentedAPI.openapi()` adds every registered model (and the
models it uses) to `components/schemas`, so each `$ref` of the document resolves.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF_TEMPLATE = "#/components/schemas/{model}"
_MODELS: dict[str, type[BaseModel]] = {}


def body_ref(model: type[BaseModel]) -> dict[str, str]:
    """`{"$ref": ...}` to the model's component; the component is added by `install_openapi`."""
    _MODELS[model.__name__] = model
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def component_schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """JSON schemas of the models (validation mode) and of every model they use, by component name."""
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


class DocumentedAPI(FastAPI):
    """FastAPI whose OpenAPI document also holds the components of hand-parsed bodies (`body_ref`)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()  # generates and caches self.openapi_schema
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in component_schemas(list(_MODELS.values())).items():
                schemas.setdefault(name, schema)  # FastAPI's own (same model, same name) stays
            document["components"]["schemas"] = dict(sorted(schemas.items()))
        return self.openapi_schema or {}
