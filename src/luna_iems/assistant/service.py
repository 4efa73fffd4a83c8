"""Luna's answers about the site itself: numbers from the product's own services, cited.

`answer_site_question` returns None when the question is not about the site's data (the document
path answers it). Without a chat model, the intent parser (`intents`) picks one tool and its
arguments and `render` states the result. With a model that can call tools, the model picks: its
`tool_calls` are validated (known name, arguments per the tool's schema, the key's role) and run,
the results go back as `role: tool` messages, at most MAX_TOOL_ROUNDS rounds; a refused call is
answered with a tool error message, never run. If the model fails, the parser answers instead.

How data and documents combine: this answer carries data citations (source + dashboard link); the
document path (`knowledge.rag`) carries document citations. `answer_ask_with_documents` (what
`/rag/ask` calls) runs the document path's retrieval and answerability gate for the same question
after the tool answer and, when a document passes it (a tariff's peak charge for "why was the bill
high?"), quotes its passage after the numbers with `citations` beside the `data_citations`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from luna_iems.admin.schemas import Role
from luna_iems.assistant import intents, render
from luna_iems.assistant.deps import AssistantDeps
from luna_iems.assistant.tools import (
    REGISTRY,
    AlertArgs,
    DataCitation,
    ForecastArgs,
    PeriodArgs,
    PlanArgs,
    PriceArgs,
    ToolContext,
    ToolResult,
    WhatIfArgs,
    list_sites,
    tools_for,
)
from luna_iems.errors import BackendUnavailableError, InvalidInputError, LunaError, PermissionDeniedError
from luna_iems.knowledge import rag
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.schemas import AskIn, AskOut, DataCitationRead
from luna_iems.ports import ToolCallingGenerator

MAX_TOOL_ROUNDS = 4
PROMPT_VERSION = "site-tools-v1"


@dataclass(frozen=True)
class SiteAnswer:
    text: str
    language: intents.Lang
    results: list[ToolResult] = field(default_factory=list)
    generator: str = "tools"
    notes: list[str] = field(default_factory=list)

    @property
    def citations(self) -> list[DataCitation]:
        return [r.citation for r in self.results]


def call_tool(ctx: ToolContext, name: str, arguments: Mapping[str, Any] | str) -> ToolResult:
    """Run tool `name` with `arguments` (an object or its JSON text). Raises InvalidInputError for an
    unknown tool or arguments its schema refuses, PermissionDeniedError above the key's role, and
    whatever the service raises (e.g. NotFoundError for a site without meters)."""
    tool = REGISTRY.get(name)
    if tool is None:
        raise InvalidInputError(
            f"unknown tool {name!r}; known: {', '.join(REGISTRY)}", details={"field": "name"}
        )
    if not ctx.role.allows(tool.role):
        raise PermissionDeniedError(
            f"tool {name!r} needs the role '{tool.role.value}'; this key has '{ctx.role.value}'",
            details={"needed": tool.role.value, "have": ctx.role.value},
        )
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        args = tool.args.model_validate(raw or {})
    except (ValueError, ValidationError) as exc:
        raise InvalidInputError(
            f"tool {name!r}: bad arguments: {exc}", details={"field": "arguments"}
        ) from exc
    return tool.run(ctx, args)


# --- the deterministic path -----------------------------------------------------------------------
def _number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", ".")) if m else None


def arguments_for(  # noqa: PLR0911 - one return per intent
    parsed: intents.ParsedQuestion, question: str, *, now: datetime, timezone: str
) -> dict[str, Any]:
    """The tool arguments for a parsed question; the defaults name what the question left out."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    text = question.lower()
    period = parsed.period
    site = {"site": parsed.site} if parsed.site else {}
    if parsed.intent in {"prices", "charge"} and period is None:
        period = intents.days(today + timedelta(days=1), today + timedelta(days=2), tz)
    if parsed.intent in {"bill_why", "whatif"} and period is None:
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        period = intents.days(first, today.replace(day=1), tz)
    if period is None:  # KPI questions without a period: the last seven whole days
        period = intents.days(today - timedelta(days=7), today, tz)
    span = {"from_date": period.first.isoformat(), "to_date": (period.end - timedelta(days=1)).isoformat()}
    capacity = _number(r"(\d+(?:[.,]\d+)?)\s*kwh", text)
    power = _number(r"(\d+(?:[.,]\d+)?)\s*kw\b", text)
    match parsed.intent:
        case "prices":
            expensive = re.search(r"teuer|expensive|höchst|highest", text) is not None
            return PriceArgs.model_validate(
                {**span, "order": "most_expensive" if expensive else "cheapest"}
            ).model_dump(mode="json")
        case "charge":
            plan: dict[str, Any] = {"day": period.first.isoformat(), **site}
            plan |= {"capacity_kwh": capacity} if capacity else {}
            plan |= {"power_kw": power} if power else {}
            return PlanArgs.model_validate(plan).model_dump(mode="json", exclude_none=True)
        case "forecast":
            target = "pv" if re.search(r"\bpv\b|solar|produ|erzeug", text) else "load"
            target = "price" if re.search(r"preis|price", text) else target
            hours = (period.ts_to - now).total_seconds() / 3600 if period.ts_to > now else 24
            return ForecastArgs.model_validate(
                {
                    **(site if target != "price" else {}),
                    "target": target,
                    "horizon_h": max(1, min(72, round(hours))),
                }
            ).model_dump(mode="json", exclude_none=True)
        case "alerts":
            return AlertArgs().model_dump(mode="json")
        case "rules":
            return {}
        case "whatif":
            pv = _number(r"(\d+)\s*%", text)
            changes: dict[str, Any] = {}
            if pv is not None and re.search(r"\bpv\b|solar", text):
                changes["pv_scale"] = 1 + pv / 100
            else:
                changes["battery_capacity_kwh"] = capacity or 10.0
                changes["battery_power_kw"] = power or 5.0
            return WhatIfArgs.model_validate({**span, **site, **changes}).model_dump(
                mode="json", exclude_none=True
            )
        case _:
            return PeriodArgs.model_validate({**span, **site}).model_dump(mode="json", exclude_none=True)


_NEEDS_SITE = {"site_kpis", "compare_periods", "optimiser_plan", "forecast", "what_if"}


def _parsed_answer(ctx: ToolContext, parsed: intents.ParsedQuestion, question: str) -> SiteAnswer:
    lang = parsed.lang
    if (
        parsed.site is None
        and parsed.tool in _NEEDS_SITE
        and not (parsed.tool == "forecast" and "price" in question)
    ):
        sites = ", ".join(ctx.sites) or "-"
        text = render._t(
            lang, f"Für welchen Standort? Vorhanden: {sites}.", f"Which site? There are: {sites}."
        )
        return SiteAnswer(text=text, language=lang, notes=["ask_site"])
    args = arguments_for(parsed, question, now=ctx.now, timezone=ctx.settings.timezone)
    try:
        result = call_tool(ctx, parsed.tool, args)
    except LunaError as exc:
        text = render._t(
            lang,
            f"Die Daten konnten nicht gelesen werden: {exc.message}",
            f"I could not read the data: {exc.message}",
        )
        return SiteAnswer(text=text, language=lang, notes=[f"tool {parsed.tool}: {exc.message}"])
    return SiteAnswer(text=render.render(parsed.intent, result, lang), language=lang, results=[result])


# --- the LLM path ---------------------------------------------------------------------------------
def _system_prompt(ctx: ToolContext, lang: intents.Lang) -> str:
    today = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date().isoformat()
    answer_in = "German" if lang == "de" else "English"
    return (
        "You are Luna, the assistant of an energy management system. Answer questions about the site "
        "with the tools: they read the site's own data. Give the numbers with units and the period. "
        f"Today is {today} (time zone {ctx.settings.timezone}); sites: {', '.join(ctx.sites) or 'none'}. "
        f"Answer in {answer_in}, briefly. If the question is not about the site's data, call no tool."
    )


def _llm_answer(
    ctx: ToolContext, generator: ToolCallingGenerator, name: str, question: str, lang: intents.Lang
) -> SiteAnswer | None:
    """The model's tool loop; None when it calls no tool (not a data question)."""
    offered = [t.schema() for t in tools_for(ctx.role)]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": _system_prompt(ctx, lang)},
        {"role": "user", "content": question},
    ]
    results: list[ToolResult] = []
    notes: list[str] = []
    for _ in range(MAX_TOOL_ROUNDS):
        reply = generator.chat_with_tools(messages, tools=offered, max_tokens=600, temperature=0.1)
        if not reply.tool_calls:
            if not results:
                return None
            return SiteAnswer(
                text=reply.content.strip(), language=lang, results=results, generator=name, notes=notes
            )
        messages.append(
            {
                "role": "assistant",
                "content": reply.content,
                "tool_calls": [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in reply.tool_calls
                ],
            }
        )
        for call in reply.tool_calls:
            try:
                result = call_tool(ctx, call.name, call.arguments)
            except LunaError as exc:
                notes.append(f"tool {call.name} refused: {exc.message}")
                content = json.dumps({"error": exc.message})
            else:
                results.append(result)
                content = json.dumps({"result": result.data, "source": result.citation.source}, default=str)
            messages.append(
                {"role": "tool", "tool_call_id": call.call_id, "name": call.name, "content": content}
            )
    notes.append(f"stopped after {MAX_TOOL_ROUNDS} tool rounds")
    if not results:
        return None
    text = " ".join(render.render("kpis", r, lang) for r in results)
    return SiteAnswer(text=text, language=lang, results=results, generator=name, notes=notes)


def answer_site_question(
    *, deps: AssistantDeps, question: str, role: Role, now: datetime | None = None
) -> SiteAnswer | None:
    """A site-data answer (numbers, units, period, data citations), or None: not a site-data question.

    The intent parser decides whether the question is about the site's data (a data word and a
    period, a possessive or a site name), so document questions cost no model call. With a
    tool-calling chat model the model then chooses the tools; without one (or when it fails) the
    parser's tool answers."""
    now = now or datetime.now(UTC)
    settings = deps.settings
    if intents.parse_intent(question) is None:
        return None
    with deps.session_factory() as session:
        sites = list_sites(session)
        parsed = intents.parse(question, now=now, timezone=settings.timezone, sites=sites)
        if parsed is None:
            return None
        ctx = ToolContext(session=session, settings=settings, now=now, role=role, sites=sites)
        generator = deps.generator
        if not isinstance(generator, ToolCallingGenerator) or generator is None:
            return _parsed_answer(ctx, parsed, question)
        try:
            return _llm_answer(ctx, generator, generator.name, question, parsed.lang)
        except BackendUnavailableError as exc:
            session.rollback()
            fallback = _parsed_answer(ctx, parsed, question)
            note = f"model unavailable, answered by the intent parser: {exc.message}"
            return SiteAnswer(
                text=fallback.text, language=fallback.language, results=fallback.results,
                notes=[note, *fallback.notes],
            )  # fmt: skip


def answer_ask(
    *, deps: AssistantDeps, question: str, role: Role, now: datetime | None = None
) -> AskOut | None:
    """`answer_site_question` as the `/rag/ask` response, or None for the document path."""
    answer = answer_site_question(deps=deps, question=question, role=role, now=now)
    if answer is None:
        return None
    return AskOut(
        answer=answer.text,
        citations=[],
        data_citations=[
            DataCitationRead(source=r.citation.source, link=r.citation.link, tool=r.tool)
            for r in answer.results
        ],
        generator=answer.generator,
        conversation_id=uuid.uuid4(),
        language=answer.language,
        found_relevant=bool(answer.results),
        prompt_version=PROMPT_VERSION,
        notes=answer.notes,
    )


_CITE = re.compile(r"\[(\d+)\]")


def with_documents(
    *, answer: AskOut, knowledge: KnowledgeDeps, ask: AskIn, key_id: uuid.UUID | None
) -> AskOut:
    """`answer` (a site-data answer) plus what the documents say to the same question.

    Retrieval and the answerability gate are the document path's own (`rag.prepare`: a hit that does
    not pass is never cited), asked with the question's topic (its period words taken out); the
    passages are quoted as the extractive answer quotes them (never paraphrased), after the numbers,
    and numbered 1..k in the text and `citations` alike. Unchanged when no document passes the gate
    or when the answer holds no data (Luna asked which site). Raises NotFoundError for an unknown
    `conversation_id`, as the document path does."""
    topic = intents.without_period(ask.question)
    if not answer.data_citations or len(topic) < 3:
        return answer
    # The period is the data's; left in, no document names it and the gate counts it as unknown.
    prepared = rag.prepare(knowledge, ask.model_copy(update={"question": topic}), key_id=key_id)
    if not prepared.relevant:
        return answer
    quoted, used, notes = rag.extractive_answer(knowledge, prepared)
    if not used:
        return answer
    number = {n: i for i, n in enumerate(used, start=1)}

    def renumber(text: str) -> str:
        return _CITE.sub(lambda m: f"[{number.get(int(m.group(1)), int(m.group(1)))}]", text)

    # The extractive answer's first paragraph says no language model wrote it; here the lead says
    # where the quotes come from instead.
    body = renumber("\n\n".join(quoted.split("\n\n")[1:]))
    lead = render._t(answer.language, "Dazu Ihre Dokumente:", "Your documents on this:")
    return answer.model_copy(
        update={
            "answer": f"{answer.answer}\n\n{lead} {body}",
            "citations": [
                c.model_copy(update={"n": number[c.n]}) for c in prepared.citations if c.n in number
            ],
            "notes": [*answer.notes, *map(renumber, notes)],
        }
    )


def answer_ask_with_documents(
    *,
    deps: AssistantDeps,
    knowledge: KnowledgeDeps,
    ask: AskIn,
    role: Role,
    key_id: uuid.UUID | None,
    now: datetime | None = None,
) -> AskOut | None:
    """`answer_ask` with the documents that speak to the same question (`with_documents`); None for
    a question that is not about the site's data (the document path answers it)."""
    answer = answer_ask(deps=deps, question=ask.question, role=role, now=now)
    if answer is None:
        return None
    return with_documents(answer=answer, knowledge=knowledge, ask=ask, key_id=key_id)
