"""Telemetry ingest and feedback: anonymous events stored once per `event_id`, labels with rewards.

Rewards (one table, `REWARDS`; docs/learning.md explains them): explicit feedback is +1 (helpful) or -1
(not helpful); events on recommendations give implicit rewards: solve +1, like +0.5, click +0.25,
dismiss -0.5; view and dwell give none. Rewards on recommendations also go to the recommender
(`recommend.service.apply_reward`) in the same transaction as the event or label that carries them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.errors import ConflictError, InvalidInputError, NotFoundError
from luna_iems.telemetry.events import repository
from luna_iems.telemetry.events.schemas import EventBatch, FeedbackIn, FeedbackRead, IngestResult
from luna_iems.telemetry.models import Label
from luna_iems.telemetry.recommend import service as recommend_service

# The reward of each signal: explicit feedback ("helpful", "not_helpful") and event types on
# recommendations. Event types not listed (view, dwell) carry no reward.
REWARDS: dict[str, float] = {
    "helpful": 1.0,
    "not_helpful": -1.0,
    "solve": 1.0,
    "like": 0.5,
    "click": 0.25,
    "dismiss": -0.5,
}
MAX_CONFLICTS_LISTED = 50
_T = TypeVar("_T")


def _retry_once(session: Session, work: Callable[[], _T]) -> _T:
    # A concurrent request may store the same event or label between our check and our insert: the
    # database's uniqueness refuses ours; run again, and the replay is then found by the check.
    try:
        return work()
    except IntegrityError:
        session.rollback()
        return work()


def ingest(*, session: Session, batch: EventBatch) -> IngestResult:
    """Store the batch's events not stored yet (validation has refused any invalid batch whole).

    An event whose `event_id` is stored with the same `ts` is a duplicate (counted, not stored again);
    with another `ts` it is a conflict: ConflictError (409) naming the ids, and nothing is stored."""
    return _retry_once(session, lambda: _ingest(session, batch))


def _ingest(session: Session, batch: EventBatch) -> IngestResult:
    received_at = utcnow()
    seen = repository.stored_ts(session=session, event_ids=(e.event_id for e in batch.events))
    rows: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    duplicates = 0
    for index, event in enumerate(batch.events):
        ts = event.ts.astimezone(UTC)
        known = seen.get(event.event_id)
        if known is not None:
            if known == ts:
                duplicates += 1
            else:
                conflicts.append(
                    {
                        "index": index,
                        "event_id": str(event.event_id),
                        "ts": ts.isoformat(),
                        "stored_ts": known.isoformat(),
                    }
                )
            continue
        seen[event.event_id] = ts
        rows.append(
            {
                "event_id": event.event_id,
                "ts": ts,
                "type": event.type,
                "item_kind": event.item_kind,
                "item_id": event.item_id,
                "user_hash": event.user,
                "duration_ms": event.duration_ms,
                "page": event.page,
                "meta": dict(event.meta),
                "received_at": received_at,
            }
        )
    if conflicts:
        first = conflicts[0]
        raise ConflictError(
            f"event_id {first['event_id']} (events[{first['index']}]) is already stored with ts "
            f"{first['stored_ts']}, not {first['ts']}: an event_id names one event; give a new id"
            + (f" ({len(conflicts)} conflicting events)" if len(conflicts) > 1 else ""),
            details={"conflicts": conflicts[:MAX_CONFLICTS_LISTED]},
        )
    repository.insert_events(session=session, rows=rows)
    _implicit_rewards(session, rows, received_at)
    session.commit()
    return IngestResult(accepted=len(rows), duplicates=duplicates)


def _implicit_rewards(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    # In time order: the recommender keeps the latest reward per recommendation.
    for row in sorted(rows, key=lambda r: r["ts"]):
        reward = REWARDS.get(row["type"])
        if row["item_kind"] != "recommendation" or reward is None:
            continue
        target = recommendation_target(row["item_id"])
        if target is None:
            continue  # not a recommendation of ours: the event is kept, it carries no reward
        recommendation_id, arm_id = target
        try:
            found = recommend_service.apply_reward(
                session, recommendation_id, reward, source=f"event:{row['type']}", arm_id=arm_id
            )
        except InvalidInputError:
            continue  # an action the recommendation did not show: kept, no reward
        if not found:
            continue
        repository.add_label(
            session=session,
            label=Label(
                dedup_key=f"implicit:{row['event_id']}",
                kind="implicit",
                target="recommendation",
                target_id=_target_text(recommendation_id, arm_id),
                event_id=row["event_id"],
                reward=reward,
                created_at=now,
                updated_at=now,
            ),
        )


def recommendation_target(item_id: str) -> tuple[uuid.UUID, str | None] | None:
    """A recommendation's id, or "<recommendation id>/<arm id>" for one of its actions: (UUID, arm or
    None for its top-ranked action); None when `item_id` is neither."""
    head, _, arm = item_id.partition("/")
    try:
        recommendation_id = uuid.UUID(head)
    except ValueError:
        return None
    return recommendation_id, arm or None


def _target_text(recommendation_id: uuid.UUID, arm_id: str | None) -> str:
    return f"{recommendation_id}/{arm_id}" if arm_id else str(recommendation_id)


def _target_id(session: Session, key_id: uuid.UUID, feedback_in: FeedbackIn) -> str:
    """The normalised id of the feedback's target; raises InvalidInputError (malformed id) or
    NotFoundError (no such answer of this key)."""
    if feedback_in.target == "recommendation":
        target = recommendation_target(feedback_in.id)
        if target is None:
            raise InvalidInputError(
                f"id: a recommendation id is a UUID (or '<UUID>/<action id>' for one of its actions), "
                f"not {feedback_in.id!r}",
                details={"field": "id"},
            )
        return _target_text(*target)
    if not feedback_in.id.isascii() or not feedback_in.id.isdigit() or len(feedback_in.id) > 18:
        raise InvalidInputError(
            f"id: an answer id is the answer_id of /rag/ask (a positive integer), not {feedback_in.id!r}",
            details={"field": "id"},
        )
    # Another key's answer gets the same 404 as none: answers are private to the key that asked.
    if repository.answer_of_key(session=session, turn_id=int(feedback_in.id), key_id=key_id) is None:
        raise NotFoundError(
            f"answer {feedback_in.id} does not exist; give the answer_id that /rag/ask returned",
            details={"target": "answer", "id": feedback_in.id},
        )
    return str(int(feedback_in.id))


def give_feedback(*, session: Session, key_id: uuid.UUID, feedback_in: FeedbackIn) -> FeedbackRead:
    """Store the key's verdict on an answer or a recommendation (reward +1 / -1).

    One label per key, target and id: a replay replaces the verdict and comment (`replaced` says so).
    The recommender receives the reward each time; it keeps one per recommendation and action (the
    latest), so replays never count twice. A recommendation's `id` alone rewards its top-ranked action,
    "<id>/<action id>" the action named.
    Raises NotFoundError (404) for an unknown answer or recommendation, InvalidInputError for a
    malformed id."""
    return _retry_once(session, lambda: _give_feedback(session, key_id, feedback_in))


def _give_feedback(session: Session, key_id: uuid.UUID, feedback_in: FeedbackIn) -> FeedbackRead:
    target_id = _target_id(session, key_id, feedback_in)
    reward = REWARDS["helpful" if feedback_in.helpful else "not_helpful"]
    dedup_key = f"explicit:{key_id}:{feedback_in.target}:{target_id}"
    now = utcnow()
    # The recommender keeps one reward per recommendation and action, the latest: a changed verdict
    # replaces it.
    target = recommendation_target(target_id) if feedback_in.target == "recommendation" else None
    if target is not None and not recommend_service.apply_reward(
        session, target[0], reward, source="feedback", arm_id=target[1]
    ):
        session.rollback()
        raise NotFoundError(
            f"recommendation {target[0]} does not exist",
            details={"target": "recommendation", "id": target_id},
        )
    label = repository.get_label(session=session, dedup_key=dedup_key)
    replaced = label is not None
    if label is None:
        label = repository.add_label(
            session=session,
            label=Label(
                dedup_key=dedup_key,
                kind="explicit",
                target=feedback_in.target,
                target_id=target_id,
                key_id=key_id,
                helpful=feedback_in.helpful,
                comment=feedback_in.comment,
                reward=reward,
                created_at=now,
                updated_at=now,
            ),
        )
    else:
        label.helpful = feedback_in.helpful
        label.comment = feedback_in.comment
        label.reward = reward
        label.updated_at = now
    session.commit()
    return FeedbackRead(
        target=feedback_in.target,
        id=target_id,
        helpful=feedback_in.helpful,
        comment=feedback_in.comment,
        reward=reward,
        replaced=replaced,
    )
