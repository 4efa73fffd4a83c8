"""HTTP routes of the decisions domain: forecasts, the optimiser, rules, what-if scenarios, alerts.

Computations that write nothing (forecasts, backtests, schedules, rule dry runs) are open to viewers;
anything that stores (rules, scenarios, detection runs, acknowledgements) needs an analyst.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import yaml
from fastapi import APIRouter, Query, Request, Response, status

from luna_iems.bounds import Offset, nul_location
from luna_iems.decisions import (
    alert_service,
    forecast_service,
    optimize_service,
    rule_service,
    scenario_service,
)
from luna_iems.decisions.schemas import (
    AlertList,
    AlertQuery,
    AlertRead,
    BacktestRead,
    BacktestRequest,
    DetectRead,
    DetectRequest,
    ForecastRead,
    ForecastRequest,
    OptimizeRequest,
    RuleCreate,
    RuleEvaluateRead,
    RuleEvaluateRequest,
    RuleList,
    RuleRead,
    RuleUpdate,
    RuleVariable,
    ScenarioList,
    ScenarioRead,
    ScheduleRead,
    WhatIfRequest,
)
from luna_iems.deps import AnalystKey, ContainerDep, SessionDep, ViewerKey
from luna_iems.errors import (
    AUTHENTICATED_ERRORS,
    BODY_ERRORS,
    InvalidInputError,
    PayloadTooLargeError,
    error_responses,
)
from luna_iems.integrations.dispatch import service as dispatch_service

router = APIRouter(responses=AUTHENTICATED_ERRORS)
_NOT_FOUND = error_responses(404)
_SCOPED = BODY_ERRORS | _NOT_FOUND  # bodies naming a meter or site: 404 when it does not exist
MAX_RULES_YAML_BYTES = 256 * 1024


# --- forecasts ----------------------------------------------------------------------------------------
@router.post("/forecast", response_model=ForecastRead, tags=["forecasts"], responses=_SCOPED)
def forecast(
    body: ForecastRequest, session: SessionDep, container: ContainerDep, _: ViewerKey
) -> ForecastRead:
    """Forecast load or PV of a meter or site, or market prices, with a prediction interval."""
    return forecast_service.run_forecast(session=session, settings=container.settings, request=body)


@router.post("/forecast/backtest", response_model=BacktestRead, tags=["forecasts"], responses=_SCOPED)
def backtest(
    body: BacktestRequest, session: SessionDep, container: ContainerDep, _: ViewerKey
) -> BacktestRead:
    """MAE, RMSE and MASE of each model over rolling origins (seasonal naive is MASE 1)."""
    return forecast_service.run_backtest(session=session, settings=container.settings, request=body)


# --- optimiser ----------------------------------------------------------------------------------------
@router.post(
    "/optimize/schedule",
    response_model=ScheduleRead,
    tags=["optimiser"],
    responses=_SCOPED | error_responses(409),
)
def schedule(
    body: OptimizeRequest, session: SessionDep, container: ContainerDep, principal: ViewerKey
) -> ScheduleRead:
    """Plan batteries, deferrable loads, grid and curtailment (MILP, HiGHS); 422 explains infeasibility.
    With `activate` (analyst) the plan is dispatched (GET /dispatch); 409 when dispatch is off."""
    result = optimize_service.optimize(session=session, settings=container.settings, request=body)
    if body.activate:  # integrations/dispatch takes the plan over
        result = dispatch_service.activate_schedule(
            deps=container.dispatch_deps, role=principal.role, request=body, schedule=result
        )
    return result


# --- rules --------------------------------------------------------------------------------------------
# `{rule_id:uuid}`: only a UUID matches, so PATCH /rules/variables is a 405, not a 422 on rule_id.
@router.get("/rules/variables", response_model=list[RuleVariable], tags=["rules"])
def rule_variables(_: ViewerKey) -> list[RuleVariable]:
    """The variables a rule's `when` and message may use, with units."""
    return rule_service.variables()


@router.get("/rules", response_model=RuleList, tags=["rules"])
def list_rules(session: SessionDep, _: ViewerKey) -> RuleList:
    return rule_service.list_rules(session=session)


@router.post(
    "/rules",
    response_model=RuleRead,
    status_code=status.HTTP_201_CREATED,
    tags=["rules"],
    responses=BODY_ERRORS | error_responses(409),
)
def create_rule(body: RuleCreate, session: SessionDep, _: AnalystKey) -> RuleRead:
    """Store a rule; 422 names the bad expression, 409 a taken name."""
    return rule_service.create_rule(session=session, rule_in=body)


@router.post(
    "/rules/import",
    response_model=RuleList,
    status_code=status.HTTP_201_CREATED,
    tags=["rules"],
    responses=BODY_ERRORS | error_responses(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string", "maxLength": MAX_RULES_YAML_BYTES}}
            },
            "description": "A YAML (or JSON) list of rules; all are stored or none",
        }
    },
)
async def import_rules(request: Request, session: SessionDep, _: AnalystKey) -> RuleList:
    """Store several rules from YAML, all or nothing; 422 names the rule (index, name) and the field."""
    body = await request.body()
    if len(body) > MAX_RULES_YAML_BYTES:
        raise PayloadTooLargeError(
            f"a rules document may hold at most {MAX_RULES_YAML_BYTES // 1024} KiB",
            details={"limit_bytes": MAX_RULES_YAML_BYTES},
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("the rules document must be UTF-8 text", details={"field": "body"}) from exc
    _refuse_escaped_nul(text)
    return rule_service.import_rules(session=session, text=text)


# YAML's double-quoted escapes for U+0000 (a raw NUL byte is refused at the edge, ops.input_guard).
_YAML_NUL_ESCAPE = re.compile(r"\\(?:0|x00|u0000|U00000000)")


def _refuse_escaped_nul(text: str) -> None:
    """422 naming the field when a YAML escape puts U+0000 into a string (PostgreSQL cannot store it)."""
    if not _YAML_NUL_ESCAPE.search(text):
        return
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # the service reports the syntax error with its line and column
    where = nul_location(document)
    if where is not None:
        message = "text must not contain NUL characters (U+0000)"
        raise InvalidInputError(
            f"{where}: {message}", details=[{"field": where, "message": message, "type": "nul_character"}]
        )


@router.get("/rules/{rule_id:uuid}", response_model=RuleRead, tags=["rules"], responses=_NOT_FOUND)
def get_rule(rule_id: uuid.UUID, session: SessionDep, _: ViewerKey) -> RuleRead:
    return rule_service.rule_read(rule_service.get_rule(session=session, rule_id=rule_id))


@router.patch("/rules/{rule_id:uuid}", response_model=RuleRead, tags=["rules"], responses=_SCOPED)
def update_rule(rule_id: uuid.UUID, body: RuleUpdate, session: SessionDep, _: AnalystKey) -> RuleRead:
    return rule_service.update_rule(session=session, rule_id=rule_id, rule_in=body)


@router.delete(
    "/rules/{rule_id:uuid}", status_code=status.HTTP_204_NO_CONTENT, tags=["rules"], responses=_NOT_FOUND
)
def delete_rule(rule_id: uuid.UUID, session: SessionDep, _: AnalystKey) -> Response:
    rule_service.delete_rule(session=session, rule_id=rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/rules/evaluate", response_model=RuleEvaluateRead, tags=["rules"], responses=_SCOPED)
def evaluate_rules(
    body: RuleEvaluateRequest, session: SessionDep, container: ContainerDep, _: ViewerKey
) -> RuleEvaluateRead:
    """Dry run over a past range: when each rule would have fired, and why others stayed quiet."""
    return rule_service.evaluate(session=session, settings=container.settings, request=body)


# --- what-if scenarios --------------------------------------------------------------------------------
@router.post(
    "/scenarios/whatif",
    response_model=ScenarioRead,
    status_code=status.HTTP_201_CREATED,
    tags=["scenarios"],
    responses=_SCOPED,
)
def whatif(body: WhatIfRequest, session: SessionDep, container: ContainerDep, _: AnalystKey) -> ScenarioRead:
    """Replay a stored period with variations; the playbook answers Why, What, How and What-if."""
    return scenario_service.run_whatif(session=session, settings=container.settings, request=body)


@router.get("/scenarios", response_model=ScenarioList, tags=["scenarios"])
def list_scenarios(
    session: SessionDep,
    _: ViewerKey,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> ScenarioList:
    return scenario_service.list_scenarios(session=session, limit=limit, offset=offset)


@router.get(  # `:uuid`: GET /scenarios/whatif is a 405, not a 422 on scenario_id
    "/scenarios/{scenario_id:uuid}", response_model=ScenarioRead, tags=["scenarios"], responses=_NOT_FOUND
)
def get_scenario(scenario_id: uuid.UUID, session: SessionDep, _: ViewerKey) -> ScenarioRead:
    return scenario_service.get_scenario(session=session, scenario_id=scenario_id)


# --- anomalies and alerts -----------------------------------------------------------------------------
@router.post("/anomalies/detect", response_model=DetectRead, tags=["alerts"], responses=_SCOPED)
def detect_anomalies(body: DetectRequest, session: SessionDep, _: AnalystKey) -> DetectRead:
    """Detect spikes, flatlines, gaps and drift over a range and store them as alerts (no duplicates)."""
    return alert_service.detect(session=session, request=body)


@router.get("/alerts", response_model=AlertList, tags=["alerts"])
def list_alerts(session: SessionDep, _: ViewerKey, query: Annotated[AlertQuery, Query()]) -> AlertList:
    """Newest first; filter by state, severity, kind (spike, flatline, gap, drift, or a rule action)."""
    return alert_service.list_alerts(session=session, query=query)


@router.post(
    "/alerts/{alert_id}/acknowledge", response_model=AlertRead, tags=["alerts"], responses=_NOT_FOUND
)
def acknowledge_alert(alert_id: uuid.UUID, session: SessionDep, principal: AnalystKey) -> AlertRead:
    return alert_service.acknowledge(session=session, alert_id=alert_id, by=principal.name)
