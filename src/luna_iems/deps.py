"""Typed FastAPI dependency aliases: the container, each domain's dependencies, a database session, and
the caller's role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import Principal, Role
from luna_iems.assistant.deps import AssistantDeps
from luna_iems.bootstrap import Container
from luna_iems.errors import AuthenticationError, LunaError, PermissionDeniedError
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.integrations.stream.service import StreamHub
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.ops.deps import OpsDeps
from luna_iems.scheduler import Scheduler
from luna_iems.timeseries.deps import TimeseriesDeps


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


# What each domain's routes hand to its services: a small dataclass built by the container, never the
# container itself (see docs/architecture.md, "Import contracts").
def get_timeseries_deps(container: ContainerDep) -> TimeseriesDeps:
    return container.timeseries_deps


TimeseriesDepsDep = Annotated[TimeseriesDeps, Depends(get_timeseries_deps)]


def get_knowledge_deps(container: ContainerDep) -> KnowledgeDeps:
    return container.knowledge_deps


KnowledgeDepsDep = Annotated[KnowledgeDeps, Depends(get_knowledge_deps)]


def get_assistant_deps(container: ContainerDep) -> AssistantDeps:
    return container.assistant_deps


AssistantDepsDep = Annotated[AssistantDeps, Depends(get_assistant_deps)]


def get_ops_deps(container: ContainerDep) -> OpsDeps:
    return container.ops_deps


OpsDepsDep = Annotated[OpsDeps, Depends(get_ops_deps)]


def get_dispatch_deps(container: ContainerDep) -> DispatchDeps:
    return container.dispatch_deps


DispatchDepsDep = Annotated[DispatchDeps, Depends(get_dispatch_deps)]


def get_stream_hub(container: ContainerDep) -> StreamHub:
    return container.stream_hub


StreamHubDep = Annotated[StreamHub, Depends(get_stream_hub)]


def get_scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]


def get_session(container: ContainerDep) -> Iterator[Session]:
    # Services commit their own unit of work; anything uncommitted is rolled back on close.
    with container.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

# Both schemes appear in the OpenAPI document, so /docs offers an "Authorize" button for each.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")


def get_principal(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = api_key or (bearer.credentials if bearer else None)
    if not token:
        raise AuthenticationError(
            "missing API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
        )
    principal = admin_service.authenticate(session=session, token=token)
    # The audit and logging middleware read the caller from here (never the token itself).
    request.state.principal = principal
    return principal


def optional_principal(
    container: ContainerDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller of a public route, if it sent a valid key; None otherwise (no error: an invalid key
    or an unreachable database only means the caller sees the public view)."""
    token = api_key or (bearer.credentials if bearer else None)
    if not token:
        return None
    try:
        with container.session_factory() as session:
            return admin_service.authenticate(session=session, token=token)
    except (LunaError, SQLAlchemyError):
        return None


OptionalKey = Annotated[Principal | None, Depends(optional_principal)]


def require_role(needed: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.role.allows(needed):
            raise PermissionDeniedError(
                f"this needs the role '{needed.value}' or higher; your key has '{principal.role.value}'",
                details={"needed": needed.value, "have": principal.role.value},
            )
        return principal

    return check


ViewerKey = Annotated[Principal, Depends(require_role(Role.VIEWER))]
AnalystKey = Annotated[Principal, Depends(require_role(Role.ANALYST))]
AdminKey = Annotated[Principal, Depends(require_role(Role.ADMIN))]
