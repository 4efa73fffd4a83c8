"""The columnar fast path accepts exactly the batches the row-by-row validation accepts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from luna_iems.db.base import to_epoch_us
from luna_iems.timeseries.columnar import reading_columns
from luna_iems.timeseries.parsing import validate_rows
from luna_iems.timeseries.schemas import ReadingIn

GOOD = [
    {"meter_id": "m-1", "ts": "2026-03-29T01:45:00+01:00", "consumption_kw": 1.5, "voltage": 230},
    {"meter_id": "m.2", "ts": "2026-03-29T03:00:00+02:00", "production_kw": 0, "quality": "missing"},
    {"meter_id": "m-1", "ts": "2026-03-29T01:00:00Z", "consumption_kw": 2, "production_kw": 0.25},
]


def test_fast_path_matches_the_models() -> None:
    columns = reading_columns(GOOD)
    assert columns is not None
    models = validate_rows(ReadingIn, GOOD)
    assert columns.meter_ids.tolist() == [m.meter_id for m in models]
    assert columns.ts_us.tolist() == [to_epoch_us(m.ts) for m in models]
    for name in ("consumption_kw", "production_kw", "voltage"):
        expected = [math.nan if getattr(m, name) is None else getattr(m, name) for m in models]
        got = getattr(columns, name).tolist()
        assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected, strict=True))
    assert columns.quality.tolist() == [m.quality.value for m in models]


@pytest.mark.parametrize(
    "change",
    [
        {"ts": "2026-03-29T01:45:00"},  # no offset
        {"consumption_kw": -1},
        {"consumption_kw": 100_001},
        {"voltage": 0},
        {"consumption_kw": "1.5"},  # a string: the models decide
        {"consumption_kw": True},
        {"meter_id": "bad id"},
        {"quality": "great"},
        {"extra": 1},
        {"ts": "1969-12-31T23:00:00Z"},
    ],
)
def test_anything_doubtful_goes_to_the_models(change: dict[str, Any]) -> None:
    rows = [GOOD[0] | change, *GOOD[1:]]
    assert reading_columns(rows) is None
    if change not in ({"consumption_kw": "1.5"}, {"consumption_kw": True}):  # lax models accept these
        with pytest.raises(ValidationError):
            ReadingIn.model_validate(rows[0])
