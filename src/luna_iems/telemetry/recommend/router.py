"""HTTP for recommendations: `POST /recommend` and the arm catalogue (parse, call, return)."""

from __future__ import annotations

from fastapi import APIRouter

from luna_iems.deps import ContainerDep, SessionDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.schemas import ArmList, RecommendIn, RecommendRead

router = APIRouter(prefix="/recommend", tags=["recommendations"], responses=AUTHENTICATED_ERRORS)


@router.post("", response_model=RecommendRead, responses=BODY_ERRORS | error_responses(503))
def post_recommend(
    body: RecommendIn, session: SessionDep, container: ContainerDep, principal: ViewerKey
) -> RecommendRead:
    """Ranked actions (and, with a question, documents) for the context, each with a reason. Send the
    `recommendation_id` back with feedback: the bandits learn from it (docs/learning.md)."""
    return recommend_service.recommend(
        session=session, deps=container.recommend_deps, body=body, key_id=principal.key_id
    )


@router.get("/arms", response_model=ArmList)
def get_arms(session: SessionDep, _: ViewerKey) -> ArmList:
    """The fixed action set the bandits choose from, with the rewards each has been credited."""
    return recommend_service.list_arms(session=session)
