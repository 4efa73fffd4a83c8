"""ENTSO-E Transparency Platform day-ahead prices: `Publication_MarketDocument` of type A44.

Structure: TimeSeries (one bidding zone, one auction) -> Period (timeInterval in UTC, resolution
PT15M / PT30M / PT60M) -> Point (position from 1, price.amount in currency per MWh). Point
`position` p covers [start + (p - 1) * resolution, start + p * resolution). With curveType A03
repeated prices are omitted and forward-filled here; A01 must list every position.
Prices are EUR/MWh (the document's currency is kept in `PriceSeries.currency`) and may be negative.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from luna_iems.timeseries.formats.errors import FormatError
from luna_iems.timeseries.formats.samples import PricePoint, PriceSeries

MARKETS = {
    "10Y1001A1001A82H": "DE-LU",
    "10YAT-APG------L": "AT",
    "10YFR-RTE------C": "FR",
    "10YNL----------L": "NL",
    "10YBE----------2": "BE",
}
_RESOLUTION = re.compile(r"PT(\d+)([MH])")
_SEQUENCE = "classificationSequence_AttributeInstanceComponent.position"
_DETAILS = {"format": "entsoe_a44"}


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: Any, path: str) -> str | None:
    """Text of the first descendant along a '/'-separated path of local names."""
    for name in path.split("/"):
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    return (element.text or "").strip() or None


def _required(element: Any, path: str, where: str) -> str:
    value = _text(element, path)
    if value is None:
        raise FormatError(f"ENTSO-E {where} has no <{path}>", details={**_DETAILS, "element": path})
    return value


def _instant(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FormatError(f"ENTSO-E {where}: {text!r} is not an ISO 8601 time", details=_DETAILS) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # UTC per spec


def _minutes(text: str) -> int:
    match = _RESOLUTION.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise FormatError(f"unsupported ENTSO-E resolution {text!r}; expected PT15M, PT30M or PT60M")
    return int(match.group(1)) * (60 if match.group(2) == "H" else 1)


def _prices(period: Any, slots: int, where: str) -> dict[int, float]:
    prices: dict[int, float] = {}
    for point in _children(period, "Point"):
        raw_position, raw_price = _required(point, "position", where), _required(point, "price.amount", where)
        try:
            position, price = int(raw_position), float(raw_price)
        except ValueError as exc:
            raise FormatError(f"ENTSO-E {where}: bad Point {raw_position!r} / {raw_price!r}") from exc
        if not 1 <= position <= slots or position in prices or not math.isfinite(price):
            raise FormatError(
                f"ENTSO-E {where}: Point position {position} with price {raw_price} is out of range "
                f"1..{slots}, repeated or not finite",
                details={**_DETAILS, "position": position},
            )
        prices[position] = price
    return prices


def _period_points(period: Any, curve_type: str, where: str) -> tuple[int, list[PricePoint]]:
    """(resolution minutes, one point per slot of the period), forward-filling A03 gaps."""
    start = _instant(_required(period, "timeInterval/start", where), where)
    end = _instant(_required(period, "timeInterval/end", where), where)
    minutes = _minutes(_required(period, "resolution", where))
    step = timedelta(minutes=minutes)
    slots, rest = divmod(end - start, step)
    if slots < 1 or rest:
        raise FormatError(f"ENTSO-E {where}: {start}..{end} is not a whole number of {minutes}-minute slots")
    prices = _prices(period, slots, where)
    missing = [position for position in range(1, slots + 1) if position not in prices]
    if missing and (curve_type != "A03" or missing[0] == 1):
        raise FormatError(
            f"ENTSO-E {where} (curveType {curve_type}) lacks positions {missing[:10]} of 1..{slots}",
            details={**_DETAILS, "missing_positions": missing},
        )
    points: list[PricePoint] = []
    for position in range(1, slots + 1):
        price = prices[position] if position in prices else points[-1].price_eur_mwh  # A03 fill
        points.append(PricePoint(ts=start + (position - 1) * step, price_eur_mwh=price))
    return minutes, points


def _parse(xml: bytes | str) -> Any:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException, ElementTree

    try:
        return ElementTree.fromstring(xml)
    except DefusedXmlException as exc:
        raise FormatError(
            f"ENTSO-E response refused: it declares DTD entities or external references ({exc!r})",
            details=_DETAILS,
        ) from exc
    except (ParseError, ValueError) as exc:
        raise FormatError(f"ENTSO-E response is not well-formed XML: {exc}", details=_DETAILS) from exc


def parse_entsoe_a44(xml: bytes | str, *, classification_sequence: int | None = 1) -> list[PriceSeries]:
    """Day-ahead price series from an A44 document, in time order (one per TimeSeries Period).

    classification_sequence: keep only TimeSeries whose classificationSequence position equals it
    (a series without that element counts as 1, the SDAC auction); None keeps all. A document usually
    holds one TimeSeries per delivery day: callers merge the returned series into one price curve.
    """
    root = _parse(xml)
    if _local(root.tag) == "Acknowledgement_MarketDocument":
        reason = _text(root, "Reason/text") or _text(root, "Reason/code") or "no reason given"
        raise FormatError(f"ENTSO-E answered with an acknowledgement instead of prices: {reason}")
    doc_type = _text(root, "type")
    if doc_type != "A44":
        raise FormatError(
            f"not an ENTSO-E day-ahead price document: {_local(root.tag)} of type {doc_type} (expected A44)",
            details={**_DETAILS, "type": doc_type},
        )
    found: list[tuple[int, Any]] = []
    for series in _children(root, "TimeSeries"):
        raw = _text(series, _SEQUENCE) or "1"
        if not raw.isdigit():
            raise FormatError(f"ENTSO-E TimeSeries has a non-numeric {_SEQUENCE} {raw!r}")
        found.append((int(raw), series))
    if not found:
        raise FormatError("ENTSO-E A44 document has no TimeSeries", details=_DETAILS)
    chosen = [(seq, s) for seq, s in found if classification_sequence in (None, seq)]
    if not chosen:
        present = ", ".join(str(seq) for seq in sorted({seq for seq, _ in found}))
        raise FormatError(
            f"ENTSO-E document has no TimeSeries with classificationSequence {classification_sequence}; "
            f"present: {present}",
            details={**_DETAILS, "present": sorted({seq for seq, _ in found})},
        )
    result: list[PriceSeries] = []
    for seq, series in chosen:
        where = f"TimeSeries {_text(series, 'mRID') or '?'}"
        unit = _text(series, "price_Measure_Unit.name") or "MWH"
        if unit.upper() != "MWH":
            raise FormatError(f"ENTSO-E {where}: prices per {unit}, expected per MWH")
        eic = _required(series, "in_Domain.mRID", where)
        currency = _required(series, "currency_Unit.name", where)
        curve_type = _text(series, "curveType") or "A01"
        if curve_type not in ("A01", "A03"):
            raise FormatError(f"ENTSO-E {where}: unsupported curveType {curve_type} (A01 or A03)")
        for period in _children(series, "Period"):
            minutes, points = _period_points(period, curve_type, where)
            result.append(PriceSeries(MARKETS.get(eic, eic), "day_ahead", minutes, seq, currency, points))
    result.sort(key=lambda s: (s.points[0].ts, s.classification_sequence or 0))
    return result
