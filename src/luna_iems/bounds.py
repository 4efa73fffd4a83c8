"""Bounds on what clients send, shared by the routers and schemas of every domain.

Every number, string and list a request carries is bounded in its schema, so an absurd value (offset
2**63, a 10 MB meter id) is a 422 naming the parameter, never a database overflow or a 500, and the
OpenAPI document says what is accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

MAX_OFFSET = 1_000_000_000  # far beyond any table here, far below a 64-bit overflow
ID_MAX_CHARS = 100  # meter, battery and site ids (the columns are VARCHAR(100))
MARKET_MAX_CHARS = 50  # market and product names (VARCHAR(50))
TAG_MAX_CHARS = 100
MAX_TAGS = 50  # tags in one filter
TAGS_CSV_MAX_CHARS = 5_000  # a comma-separated tag list in a query or form field
MAX_IDS = 100  # ids in one filter

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip (0 to {MAX_OFFSET:,}); see `total`")
]
IdQuery = Annotated[str | None, Query(max_length=ID_MAX_CHARS)]
MarketQuery = Annotated[str | None, Query(max_length=MARKET_MAX_CHARS)]


# --- NUL characters -------------------------------------------------------------------------------
# PostgreSQL text cannot hold U+0000 and no field of this API means it: ops.input_guard refuses it at
# the edge; `nul_location` finds it in parsed documents (JSON, YAML) to name the field.
NUL = "\x00"


def escape_nul(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def nul_location(value: Any, prefix: str = "body") -> str | None:
    """Where the first string value or key holding U+0000 sits, as `body.rows[3].site`; None if none."""
    stack: list[tuple[Any, str]] = [(value, prefix)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and NUL in key:
                    return f"{where}.{escape_nul(key)}"
            stack.extend((child, f"{where}.{key}") for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None


# --- timestamps -----------------------------------------------------------------------------------
# Pydantic's lax mode reads a number as Unix seconds (`since=0.5` -> 1970-01-01T00:00:00.5Z): here a
# timestamp is ISO 8601 text with an offset, as the OpenAPI document says (format date-time).
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _iso_text(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give an ISO 8601 timestamp with offset, e.g. 2026-02-02T00:00:00+01:00")
    return value


def _iso_day_text(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give a day as ISO 8601 text, e.g. 2026-02-02")
    return value


def _in_calendar(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"timestamp {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
# A calendar day as ISO 8601 text (YYYY-MM-DD); a number (which lax mode reads as Unix seconds) is refused.
IsoDate = Annotated[date, BeforeValidator(_iso_day_text)]
# Where a computation starts from the time (ranges, horizons, calendars): bounded, so date arithmetic
# never overflows whatever a caller sends.
BoundedTimestamp = Annotated[Timestamp, AfterValidator(_in_calendar)]


# --- numbers in JSON bodies ---------------------------------------------------------------------------
# Pydantic's lax mode reads `true` as 1 and "5" as 5. JSON bodies say what they mean: floats are
# `strict=True` (an int is still a float), integers take JSON numbers only (19.0 is an integer in JSON
# Schema, so strict ints would refuse valid requests), and fields that CSV rows share refuse booleans.
def _json_number(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("give a JSON number")
    return value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("give a number, not true/false")
    return value


# Put these after any Field constraints in an Annotated (`Annotated[int, Field(ge=1), JsonNumber]`):
# constraints after a validator would leave the OpenAPI document with `ge`/`le` instead of minimum/maximum.
JsonNumber = BeforeValidator(_json_number)
NotBool = BeforeValidator(_not_bool)
JsonInt = Annotated[int, JsonNumber]
