"""One request to a price source, its answer classified. No retries and no sleeping here: the service
decides when to try again (from the persisted state and an injectable clock).

ENTSO-E Transparency REST API (https://transparency.entsoe.eu/content/static_content/Static%20content/
web%20api/Guide.html): `GET <ENTSOE_URL>?documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>&
periodStart=yyyyMMddHHmm&periodEnd=yyyyMMddHHmm&securityToken=<token>`, times in UTC. It answers a
`Publication_MarketDocument` with the prices, or an `Acknowledgement_MarketDocument` whose
`Reason/text` says why not: "No matching data found ..." (HTTP 200) means not published yet; other
reasons (HTTP 400, e.g. "Invalid query attributes or parameters") are a configuration problem.
An unknown token is HTTP 401; too many requests HTTP 429 (400 requests a minute per token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

import httpx

NO_DATA_REASON = "no matching data found"
_MAX_DETAIL = 300


class Outcome(StrEnum):
    OK = "ok"  # a body to ingest
    NO_DATA = "no_data"  # not published yet: try again later
    AUTH = "auth"  # the token (or the URL's credentials) was refused: retrying will not help
    REJECTED = "rejected"  # the source refused the request itself (bad area, bad URL)
    RETRY = "retry"  # 429, 5xx, timeouts, connection errors: back off and try again


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    body: bytes = b""
    media_type: str = ""
    detail: str = ""
    status_code: int | None = None
    retry_after_s: float | None = None


def entsoe_time(instant: datetime) -> str:
    """ENTSO-E's `yyyyMMddHHmm` in UTC."""
    return instant.astimezone(UTC).strftime("%Y%m%d%H%M")


def entsoe_params(*, area: str, start: datetime, end: datetime, token: str) -> dict[str, str]:
    return {
        "documentType": "A44",
        "in_Domain": area,
        "out_Domain": area,
        "periodStart": entsoe_time(start),
        "periodEnd": entsoe_time(end),
        "securityToken": token,
    }


def acknowledgement_reason(xml: bytes) -> str | None:
    """The `Reason` (code and text) of an ENTSO-E Acknowledgement_MarketDocument; None for any other
    document (or no XML at all)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException, ElementTree

    try:
        root = ElementTree.fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    if str(root.tag).rsplit("}", 1)[-1] != "Acknowledgement_MarketDocument":
        return None
    parts: dict[str, str] = {}
    for element in root.iter():
        name = str(element.tag).rsplit("}", 1)[-1]
        if name in ("code", "text") and name not in parts and element.text:
            parts[name] = element.text.strip()
    text = parts.get("text") or "no reason given"
    return f"{text} (reason code {parts['code']})" if "code" in parts else text


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:_MAX_DETAIL]


def _classify_status(response: httpx.Response, who: str) -> Answer | None:
    """The outcome of a non-success status, or None for 2xx."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    detail = f"{who} answered HTTP {code}: {_snippet(response) or response.reason_phrase}"
    if code in (401, 403):
        return Answer(Outcome.AUTH, detail=detail, status_code=code)
    if code in (408, 425, 429) or code >= 500:
        return Answer(Outcome.RETRY, detail=detail, status_code=code, retry_after_s=_retry_after(response))
    return Answer(Outcome.REJECTED, detail=detail, status_code=code)


def fetch_entsoe(
    *, url: str, token: str, area: str, start: datetime, end: datetime, timeout_s: float
) -> Answer:
    """One A44 request for [start, end). The token never appears in `detail` (it is a query parameter)."""
    params = entsoe_params(area=area, start=start, end=end, token=token)
    try:
        response = httpx.get(url, params=params, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:  # timeouts, refused connections, protocol errors
        return Answer(Outcome.RETRY, detail=f"ENTSO-E unreachable: {type(exc).__name__}: {exc}"[:_MAX_DETAIL])
    reason = acknowledgement_reason(response.content)
    if reason is not None:
        if NO_DATA_REASON in reason.lower():
            return Answer(Outcome.NO_DATA, detail=f"ENTSO-E: {reason}", status_code=response.status_code)
        failed = _classify_status(response, "ENTSO-E")
        outcome = failed.outcome if failed is not None else Outcome.REJECTED
        return Answer(outcome, detail=f"ENTSO-E: {reason}", status_code=response.status_code)
    failed = _classify_status(response, "ENTSO-E")
    if failed is not None:
        return failed
    return Answer(
        Outcome.OK, body=response.content, media_type="application/xml", status_code=response.status_code
    )


def fetch_url(*, url: str, fmt: str, timeout_s: float) -> Answer:
    """One GET of a generic price URL, read as `fmt` ("csv" or "json") whatever its content type says."""
    who = f"price source {redact(url)}"
    try:
        response = httpx.get(url, timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError as exc:
        return Answer(Outcome.RETRY, detail=f"{who} unreachable: {type(exc).__name__}: {exc}"[:_MAX_DETAIL])
    failed = _classify_status(response, who)
    if failed is not None:
        return failed
    media = "text/csv" if fmt == "csv" else "application/json"
    return Answer(Outcome.OK, body=response.content, media_type=media, status_code=response.status_code)


def redact(url: str) -> str:
    """A URL without credentials, query or fragment (they may hold a token) for status and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
