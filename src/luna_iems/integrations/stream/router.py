"""HTTP: GET /stream/readings, Server-Sent Events of new readings, alerts and setpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from luna_iems.bounds import ID_MAX_CHARS, MAX_IDS
from luna_iems.deps import StreamHubDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS
from luna_iems.integrations.stream.service import KINDS, StreamEvent, StreamHub, Subscription

router = APIRouter(tags=["stream"], responses=AUTHENTICATED_ERRORS)
KEEP_ALIVE_S = 15.0
EXAMPLE = (
    "event: reading\nid: reading:sim-household-001:2026-12-06T10:15:00Z\n"
    'data: {"meter_id": "sim-household-001", "site": "sim", "ts": "2026-12-06T10:15:00Z", '
    '"consumption_kw": 0.82, "production_kw": 1.4, "voltage": 231.2, "quality": "ok"}\n\n'
)


def _frame(event: StreamEvent) -> str:
    return (
        f"event: {event.kind}\nid: {event.event_id}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"
    )


async def _frames(
    request: Request, hub: StreamHub, subscription: Subscription, max_events: int | None
) -> AsyncIterator[str]:
    sent = 0
    try:
        yield f"retry: 3000\n: {hub.subscribers} listening\n\n"
        while max_events is None or sent < max_events:
            if subscription.dropped:
                yield f"event: lagged\ndata: {json.dumps({'dropped': subscription.dropped})}\n\n"
                subscription.dropped = 0
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=KEEP_ALIVE_S)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            yield _frame(event)
            sent += 1
    finally:
        hub.unsubscribe(subscription)


@router.get(
    "/stream/readings",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"example": EXAMPLE}},
            "description": "Server-Sent Events: `reading` (a meter's newest reading after each write), "
            "`alert` (raised), `setpoint` (sent by dispatch), `lagged` (events dropped for a slow "
            "client); a comment line every 15 s keeps proxies from closing the connection",
        }
    },
)
async def stream_readings(
    request: Request,
    hub: StreamHubDep,
    _: ViewerKey,
    kinds: Annotated[
        list[Literal["reading", "alert", "setpoint"]] | None,
        Query(
            alias="kind",
            max_length=len(KINDS),
            description="Event kinds to send (repeatable); all by default",
        ),
    ] = None,
    meter_ids: Annotated[
        list[Annotated[str, Query(max_length=ID_MAX_CHARS)]] | None,
        Query(alias="meter_id", max_length=MAX_IDS, description="Only these meters' readings and alerts"),
    ] = None,
    sites: Annotated[
        list[Annotated[str, Query(max_length=ID_MAX_CHARS)]] | None,
        Query(alias="site", max_length=MAX_IDS, description="Only events of these sites"),
    ] = None,
    max_events: Annotated[
        int | None, Query(ge=1, le=100_000, description="Close the stream after this many events")
    ] = None,
) -> StreamingResponse:
    """Live events pushed as they are written, from any source (HTTP, MQTT, simulator, Modbus, dispatch),
    within about STREAM_POLL_S (1 s). Reconnecting clients get what is written from then on."""
    subscription = hub.subscribe(
        asyncio.get_running_loop(), kinds=kinds or KINDS, meter_ids=meter_ids or (), sites=sites or ()
    )
    return StreamingResponse(
        _frames(request, hub, subscription, max_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
