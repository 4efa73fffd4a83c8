"""Luna answers questions from the customer's documents, with citations.

Retrieval is hybrid (see retrieval.py). With a chat model (Ollama or an OpenAI-compatible server) the
answer is generated from a versioned prompt; every [n] in it is checked against the sources given and
references to anything else are removed. Without a model, or when it cannot be reached, the answer is
extractive: the sentences of the cited chunks closest to the question, clearly labelled as such. When
nothing relevant is retrieved, Luna says so instead of guessing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Literal

import numpy as np

from luna_iems.errors import BackendUnavailableError, NotFoundError
from luna_iems.knowledge import repository
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.german import heading_section_terms, query_section_terms
from luna_iems.knowledge.lexical import detect_language
from luna_iems.knowledge.models import Conversation, ConversationTurn
from luna_iems.knowledge.retrieval import search
from luna_iems.knowledge.schemas import AskIn, AskOut, Citation, SearchHit
from luna_iems.ports import ChatMessage

PROMPT_VERSION = "luna-v1"
HISTORY_TURNS = 3
EXTRACTIVE_SENTENCES = 3
# Sentences embedded to pick the extractive answer: embedding is ~90% of an answer's time.
MAX_EXTRACTIVE_CANDIDATES = 24
_CITE = re.compile(r"\[(\d+)\]")
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ(0-9§])")
Language = Literal["de", "en"]

_TEXTS: dict[str, dict[Language, str]] = {
    "nothing": {
        "en": (
            "I looked through your documents and found nothing that answers this, I'm afraid. "
            "Rather than guess, I'll leave it there: if a manual, report or regulation covers it, "
            "upload it and ask me again."
        ),
        "de": (
            "Ich habe Ihre Dokumente durchsucht und leider nichts gefunden, was diese Frage beantwortet. "
            "Raten möchte ich nicht: Wenn es ein Handbuch, einen Bericht oder eine Vorschrift dazu gibt, "
            "laden Sie es hoch und fragen Sie mich noch einmal."
        ),
    },
    "extractive": {
        "en": "No language model is configured, so here is what your documents say, quoted, not paraphrased:",
        "de": "Kein Sprachmodell eingerichtet; hier steht, was Ihre Dokumente sagen, wörtlich zitiert:",
    },
    "language_name": {"en": "English", "de": "German (Deutsch)"},
}


@dataclass
class Prepared:
    question: str
    language: Language
    conversation: uuid.UUID
    citations: list[Citation]
    hits: list[SearchHit]
    relevant: bool
    history: list[ConversationTurn]
    notes: list[str]


def _template() -> Template:
    text = resources.files("luna_iems.knowledge").joinpath(f"prompts/{PROMPT_VERSION}.md").read_text("utf-8")
    return Template(text)


def _relevant(hit: SearchHit, threshold: float, sections: set[str], *, dense: float | None = None) -> bool:
    """Dense similarity decides (`dense`, else the hit's own score); a lexical match lowers the bar a
    little (exact terms, e.g. § numbers).
    A chunk of a section the question names ("§ 61") is relevant whatever its dense score: the
    English embedding model often misses German sections that BM25 finds by their number."""
    if hit.section and sections and sections & set(heading_section_terms(hit.section)):
        return True
    score = hit.dense_score if dense is None else dense
    if score is None:
        return False
    return score >= threshold or (hit.lexical_rank is not None and score >= threshold - 0.1)


def _dense_scores(deps: KnowledgeDeps, hits: list[SearchHit], query_vector: list[float]) -> dict[str, float]:
    """Give hits that only BM25 found (no dense score) their cosine similarity to the query, so that
    relevance is judged the same way for every hit: German questions are often answered best by a
    chunk the English model did not rank in its top candidates, and it must not drop out of the
    citations for that alone."""
    scores = {str(h.chunk_id): h.dense_score for h in hits if h.dense_score is not None}
    missing = [h for h in hits if h.dense_score is None]
    if missing:
        vectors = np.asarray(deps.embedder.embed([h.text for h in missing], kind="passage"))
        for hit, score in zip(missing, (vectors @ np.asarray(query_vector)).tolist(), strict=True):
            scores[str(hit.chunk_id)] = float(score)
    return scores


def prepare(deps: KnowledgeDeps, ask: AskIn, *, key_id: uuid.UUID | None) -> Prepared:
    settings = deps.settings
    with deps.session_factory() as session:
        history: list[ConversationTurn] = []
        if ask.conversation_id is not None:
            found = repository.get_conversation(session=session, conversation_id=ask.conversation_id)
            # A conversation belongs to the key that started it; others get the same 404 as for none.
            if found is None or (found.key_id is not None and found.key_id != key_id):
                raise NotFoundError(
                    f"conversation {ask.conversation_id} does not exist; omit conversation_id to start one",
                    details={"conversation_id": str(ask.conversation_id)},
                )
            history = repository.recent_turns(
                session=session, conversation_id=ask.conversation_id, limit=HISTORY_TURNS
            )
        conversation = ask.conversation_id or uuid.uuid4()
    # A follow-up ("and for the weekend?") is retrieved together with the previous question.
    query = f"{history[-1].question} {ask.question}" if history else ask.question
    query_vector = deps.embedder.embed([query], kind="query")[0]
    result = search(
        deps=deps,
        query=query,
        top_k=ask.top_k or settings.rag_top_k,
        filters=ask.filters,
        query_vector=query_vector,
    )
    dense = _dense_scores(deps, result.hits, query_vector)
    sections = set(query_section_terms(ask.question))
    relevant_hits = [
        h
        for h in result.hits
        if _relevant(h, settings.rag_min_dense_score, sections, dense=dense.get(str(h.chunk_id)))
    ]
    citations = [
        Citation(
            n=n,
            chunk_id=h.chunk_id,
            item_id=h.item_id,
            title=h.title,
            page=h.page,
            section=h.section,
            snippet=h.snippet,
            score=h.score,
        )
        for n, h in enumerate(relevant_hits, start=1)
    ]
    return Prepared(
        question=ask.question,
        language=detect_language(ask.question),
        conversation=conversation,
        citations=citations,
        hits=relevant_hits,
        relevant=bool(citations),
        history=history,
        notes=[],
    )


def _messages(prepared: Prepared) -> list[ChatMessage]:
    context = "\n\n".join(
        f"[{c.n}] {c.title}"
        + (f", {c.section}" if c.section else "")
        + (f", p. {c.page}" if c.page else "")
        + f"\n{hit.text}"
        for c, hit in zip(prepared.citations, prepared.hits, strict=True)
    )
    system = _template().substitute(context=context, language_name=_TEXTS["language_name"][prepared.language])
    messages = [ChatMessage(role="system", content=system)]
    for turn in prepared.history:
        messages += [
            ChatMessage(role="user", content=turn.question),
            ChatMessage(role="assistant", content=turn.answer),
        ]
    messages.append(ChatMessage(role="user", content=prepared.question))
    return messages


def check_citations(answer: str, citations: Sequence[Citation]) -> tuple[str, list[Citation], list[str]]:
    """Drop [n] that name no source; keep the cited sources (all of them if the answer cites none)."""
    valid = {c.n for c in citations}
    notes: list[str] = []
    invalid = sorted({int(n) for n in _CITE.findall(answer)} - valid)
    if invalid:
        answer = _CITE.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", answer)
        notes.append(f"removed references to sources that were not given: {invalid}")
    cited = {int(n) for n in _CITE.findall(answer)}
    if not cited:
        notes.append("the model cited no source; all retrieved sources are listed")
        return answer.strip(), list(citations), notes
    return answer.strip(), [c for c in citations if c.n in cited], notes


def extractive_answer(deps: KnowledgeDeps, prepared: Prepared) -> str:
    """The sentences of the sources closest to the question (by embedding), each with its [n]."""
    candidates: list[tuple[int, int, str]] = []  # (source n, position, sentence)
    for citation, hit in zip(prepared.citations[:3], prepared.hits[:3], strict=False):
        for position, sentence in enumerate(s.strip() for s in _SENTENCES.split(hit.text)):
            if len(sentence) >= 20 and len(candidates) < MAX_EXTRACTIVE_CANDIDATES:
                candidates.append((citation.n, position, sentence))
    if not candidates:
        return _TEXTS["nothing"][prepared.language]
    vectors = np.asarray(deps.embedder.embed([prepared.question, *(c[2] for c in candidates)], kind="query"))
    scores = vectors[1:] @ vectors[0]
    top = [i for i in np.argsort(-scores)[:EXTRACTIVE_SENTENCES].tolist() if scores[i] >= scores.max() - 0.15]
    # The answer cites the top-ranked source first: retrieval (hybrid, § aware) ranks sources better
    # than sentence similarity does, so its best sentence leads even if another source's scores higher.
    lead = [i for i, c in enumerate(candidates) if c[0] == prepared.citations[0].n]
    if lead and not any(candidates[i][0] == prepared.citations[0].n for i in top):
        top = [max(lead, key=lambda i: float(scores[i])), *top[: EXTRACTIVE_SENTENCES - 1]]
    best = sorted(top, key=lambda i: candidates[i][:2])
    quoted = " ".join(f"{candidates[i][2]} [{candidates[i][0]}]" for i in best)
    return f"{_TEXTS['extractive'][prepared.language]}\n\n{quoted}"


def answer(deps: KnowledgeDeps, ask: AskIn, *, key_id: uuid.UUID | None) -> AskOut:
    """Answer `ask` (see the module docstring); stores the turn in its conversation."""
    prepared = prepare(deps, ask, key_id=key_id)
    if not prepared.relevant or deps.generator is None:
        return answer_from(deps, ask, prepared, key_id=key_id)
    settings = deps.settings
    try:
        raw = deps.generator.generate(
            _messages(prepared),
            max_tokens=settings.generator_max_tokens,
            temperature=settings.generator_temperature,
        )
    except BackendUnavailableError as exc:
        note = f"the {deps.generator.name} model could not answer ({exc.message}); extractive answer"
        return answer_from(deps, ask, prepared, key_id=key_id, notes=[note])
    text, citations, notes = check_citations(raw, prepared.citations)
    result = AskOut(
        answer=text,
        citations=citations,
        generator=deps.generator.name,
        conversation_id=prepared.conversation,
        language=prepared.language,
        found_relevant=True,
        prompt_version=PROMPT_VERSION,
        notes=notes,
    )
    _store_turn(deps, ask, result, key_id=key_id)
    return result


def stream_prepared(
    deps: KnowledgeDeps, ask: AskIn, prepared: Prepared, *, key_id: uuid.UUID | None
) -> Iterator[tuple[str, object]]:
    """Server-sent events for a question already retrieved by `prepare`: ("citations", [...]), then
    ("token", piece)..., then ("done", AskOut). If the model fails after tokens were sent, a
    ("reset", {reason}) event tells the client to discard them; the extractive answer follows."""
    yield "citations", [c.model_dump(mode="json") for c in prepared.citations]
    if not prepared.relevant or deps.generator is None:
        result = answer_from(deps, ask, prepared, key_id=key_id)
        yield "token", result.answer
        yield "done", result.model_dump(mode="json")
        return
    settings = deps.settings
    pieces: list[str] = []
    notes: list[str] = []
    generator_name = deps.generator.name
    try:
        for piece in deps.generator.stream(
            _messages(prepared),
            max_tokens=settings.generator_max_tokens,
            temperature=settings.generator_temperature,
        ):
            pieces.append(piece)
            yield "token", piece
        text, citations, notes = check_citations("".join(pieces), prepared.citations)
    except BackendUnavailableError as exc:
        note = f"the {generator_name} model could not answer ({exc.message}); extractive answer"
        fallback = answer_from(deps, ask, prepared, key_id=key_id, notes=[note])
        if pieces:  # tokens already sent belong to the failed answer: tell the client to drop them
            yield "reset", {"reason": note}
        yield "token", fallback.answer
        yield "done", fallback.model_dump(mode="json")
        return
    result = AskOut(
        answer=text,
        citations=citations,
        generator=generator_name,
        conversation_id=prepared.conversation,
        language=prepared.language,
        found_relevant=True,
        prompt_version=PROMPT_VERSION,
        notes=notes,
    )
    _store_turn(deps, ask, result, key_id=key_id)
    yield "done", result.model_dump(mode="json")


def answer_from(
    deps: KnowledgeDeps,
    ask: AskIn,
    prepared: Prepared,
    *,
    key_id: uuid.UUID | None,
    notes: list[str] | None = None,
) -> AskOut:
    """The answer without a language model: extractive, or "nothing relevant found"."""
    text = extractive_answer(deps, prepared) if prepared.relevant else _TEXTS["nothing"][prepared.language]
    result = AskOut(
        answer=text,
        citations=prepared.citations,
        generator="extractive",
        conversation_id=prepared.conversation,
        language=prepared.language,
        found_relevant=prepared.relevant,
        prompt_version=PROMPT_VERSION,
        notes=notes or [],
    )
    _store_turn(deps, ask, result, key_id=key_id)
    return result


def _store_turn(deps: KnowledgeDeps, ask: AskIn, result: AskOut, *, key_id: uuid.UUID | None) -> None:
    now = datetime.now(tz=UTC)
    with deps.session_factory() as session:
        conversation = repository.get_conversation(session=session, conversation_id=result.conversation_id)
        if conversation is None:
            session.add(
                Conversation(
                    conversation_id=result.conversation_id, key_id=key_id, created_at=now, updated_at=now
                )
            )
            session.flush()
        else:
            conversation.updated_at = now
        session.add(
            ConversationTurn(
                conversation_id=result.conversation_id,
                question=ask.question,
                answer=result.answer,
                citations=[c.model_dump(mode="json") for c in result.citations],
                generator=result.generator,
                created_at=now,
            )
        )
        session.commit()
