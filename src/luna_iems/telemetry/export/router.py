"""HTTP for the DP export and priors: `/learn/*`, admin only (parse, call, return)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from luna_iems.deps import AdminKey, ContainerDep, SessionDep
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, ErrorResponse, error_responses
from luna_iems.telemetry.export import service as export_service
from luna_iems.telemetry.export.schemas import (
    BudgetRead,
    ExportCreate,
    ExportRead,
    PriorsImportRead,
    PublicKeyRead,
)

router = APIRouter(prefix="/learn", tags=["learning"], responses=AUTHENTICATED_ERRORS)

_SEND_FAILED: dict[int | str, dict[str, Any]] = {
    502: {
        "model": ErrorResponse,
        "description": "LEARN_EXPORT_URL did not accept the file (it was written, and the ε is spent)",
    }
}


@router.post(
    "/export", response_model=ExportRead, responses=BODY_ERRORS | error_responses(409) | _SEND_FAILED
)
def post_export(
    body: ExportCreate, session: SessionDep, container: ContainerDep, principal: AdminKey
) -> ExportRead:
    """Write a signed export of the period's aggregates with differential-privacy noise (and POST it
    to LEARN_EXPORT_URL with `send`). 409 while the privacy flag is off or when the period's ε budget
    is spent (docs/learning.md, "What leaves the site")."""
    actor = export_service.Actor(key_id=principal.key_id, role=principal.role.value)
    return export_service.export(session=session, settings=container.settings, export_in=body, actor=actor)


@router.get("/public-key", response_model=PublicKeyRead)
def get_public_key(container: ContainerDep, _: AdminKey) -> PublicKeyRead:
    """This instance's Ed25519 public key (generated at first use) and its fingerprint: give them to
    whoever receives the exports, or list them in another instance's LEARN_TRUSTED_KEYS."""
    return export_service.public_key(settings=container.settings)


@router.get("/budget", response_model=BudgetRead)
def get_budget(session: SessionDep, container: ContainerDep, _: AdminKey) -> BudgetRead:
    """ε spent and left per ledger (calendar month, and the bandit statistics)."""
    return export_service.budget(session=session, settings=container.settings)


@router.post("/priors", response_model=PriorsImportRead, responses=BODY_ERRORS)
def post_priors(
    body: Annotated[
        dict[str, Any], Body(description="A signed export file, as written by POST /learn/export")
    ],
    session: SessionDep,
    container: ContainerDep,
    principal: AdminKey,
) -> PriorsImportRead:
    """Import a signed export's bandit statistics as priors (weight LEARN_PRIOR_WEIGHT). The signature
    is checked first and the key must be this instance's or in LEARN_TRUSTED_KEYS (else 422); the
    same export imported again changes nothing (`imported` false)."""
    actor = export_service.Actor(key_id=principal.key_id, role=principal.role.value)
    return export_service.import_priors(
        session=session, settings=container.settings, document=body, actor=actor
    )
