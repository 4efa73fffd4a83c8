"""HTTP for telemetry/events: `POST /ingest/telemetry` (event batches) and `POST /feedback` (parse, call,
return). Any key may send both: they store only anonymous signals and the caller's own verdicts."""

from __future__ import annotations

from fastapi import APIRouter

from luna_iems.deps import SessionDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.telemetry.events import service as events_service
from luna_iems.telemetry.events.schemas import EventBatch, FeedbackIn, FeedbackRead, IngestResult

router = APIRouter(tags=["telemetry"], responses=AUTHENTICATED_ERRORS)


@router.post("/ingest/telemetry", response_model=IngestResult, responses=BODY_ERRORS | error_responses(409))
def ingest_telemetry(body: EventBatch, session: SessionDep, _: ViewerKey) -> IngestResult:
    """Store anonymous interaction events (1 to 1000 per batch, any key).

    The whole batch is refused (422, each offending `events[i].field` listed) if one event is invalid
    or carries personal data; a replayed `event_id` is counted in `duplicates`, never stored twice;
    the same `event_id` with another `ts` is a 409."""
    return events_service.ingest(session=session, batch=body)


@router.post("/feedback", response_model=FeedbackRead, responses=BODY_ERRORS | error_responses(404))
def post_feedback(body: FeedbackIn, session: SessionDep, principal: ViewerKey) -> FeedbackRead:
    """Say whether an answer (`id`: its `answer_id`) or a recommendation helped (reward +1 / -1).

    Sending it again for the same target and id replaces the verdict (`replaced`: true)."""
    return events_service.give_feedback(session=session, key_id=principal.key_id, feedback_in=body)
