"""Answerability: does anything retrieved answer the question, or should Luna say it found nothing?

The old gate (cosine >= 0.35, or >= 0.25 with any keyword) let through questions the documents do
not answer, above all German ones read by the English embedding model. The decision is now a logistic
regression over features of the question and its hits, fitted on a TRAIN split of
benchmarks/data/luna_questions/ (answerable and unanswerable questions in German and English) by
`python -m benchmarks.luna_answers --fit`, and reported on a separate TEST split. The fitted
parameters ship in `answerability.json` next to this module; nothing is downloaded.

Features (`features`), for the hits retrieval returned (top k):

* dense_max: the best cosine similarity of a hit (every hit gets one, see rag._dense_scores);
* coverage: the best IDF-weighted share of the question's content terms (stop words removed, stemmed
  in the question's language) that a hit contains, in its text, title or headings;
* unknown: the IDF-weighted share of the question's content terms that no indexed chunk contains at
  all ("ibuprofen", "Hundesteuer" in an energy library);
* section: 1 when the question names a § and a hit is that §;
* german: 1 for a German question, and dense_max x german (the English model scores German lower);
* margin: the best dense score minus the second best;
* lang_match: 1 when the best hit is written in the question's language.

A question that names a § which one of the hits is, is answerable whatever the model says: it asks
for a passage the library holds.

`hit_supports` then says which hits the answer may use: the ones whose own evidence comes close to
the best hit's (a hit that shares none of the question's rare terms and is not similar is not cited).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from luna_iems.knowledge.german import heading_section_terms, query_section_terms
from luna_iems.knowledge.lexical import Language, analyze, detect_language
from luna_iems.knowledge.schemas import SearchHit

FEATURES = ("dense_max", "coverage", "unknown", "section", "german", "dense_x_german", "margin", "lang_match")
PARAMETERS = "answerability.json"


@dataclass(frozen=True)
class Evidence:
    """What one hit offers for the question."""

    dense: float
    coverage: float
    section: bool


@dataclass(frozen=True)
class Assessment:
    features: dict[str, float]
    evidence: list[Evidence]  # by hit, in retrieval order
    probability: float
    answerable: bool


@dataclass(frozen=True)
class Model:
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    thresholds: dict[str, float]  # by the question's language: answer when the probability reaches it

    def probability(self, values: Sequence[float]) -> float:
        z = self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, values, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"answerability parameters are for features {data['features']}, not {FEATURES}")
        return cls(
            mean=[float(x) for x in data["mean"]],
            scale=[float(x) or 1.0 for x in data["scale"]],
            coef=[float(x) for x in data["coef"]],
            intercept=float(data["intercept"]),
            thresholds={lang: float(value) for lang, value in data["thresholds"].items()},
        )


@cache
def shipped_model() -> Model:
    text = resources.files("luna_iems.knowledge").joinpath(PARAMETERS).read_text("utf-8")
    return Model.from_json(json.loads(text))


def content_terms(question: str, language: Language) -> list[str]:
    """The question's content terms: stop words removed, stemmed; each once."""
    return list(dict.fromkeys(analyze(question, language)))


def features(
    question: str,
    hits: Sequence[SearchHit],
    dense: Sequence[float],
    *,
    idf: Callable[[str], float],
    df: Callable[[str], int],
) -> tuple[dict[str, float], list[Evidence]]:
    """The features of `question` and its `hits` (with `dense`, their cosine similarities)."""
    language = detect_language(question)
    terms = content_terms(question, language)
    weights = {t: idf(t) for t in terms}
    total = sum(weights.values()) or 1.0
    named = set(query_section_terms(question))
    evidence: list[Evidence] = []
    for hit, score in zip(hits, dense, strict=True):
        words = set(analyze(" ".join([hit.title, *hit.heading_path, hit.text]), language))
        coverage = sum(w for t, w in weights.items() if t in words) / total if terms else 0.0
        section = bool(named and hit.section and named & set(heading_section_terms(hit.section)))
        evidence.append(Evidence(dense=float(score), coverage=coverage, section=section))
    ordered = sorted((e.dense for e in evidence), reverse=True)
    german = 1.0 if language == "de" else 0.0
    dense_max = ordered[0] if ordered else 0.0
    values = {
        "dense_max": dense_max,
        "coverage": max((e.coverage for e in evidence), default=0.0),
        "unknown": sum(w for t, w in weights.items() if df(t) == 0) / total if terms else 0.0,
        "section": 1.0 if any(e.section for e in evidence) else 0.0,
        "german": german,
        "dense_x_german": dense_max * german,
        "margin": ordered[0] - ordered[1] if len(ordered) > 1 else 0.0,
        "lang_match": 1.0 if hits and detect_language(hits[0].text) == language else 0.0,
    }
    return values, evidence


def assess(
    question: str,
    hits: Sequence[SearchHit],
    dense: Sequence[float],
    *,
    idf: Callable[[str], float],
    df: Callable[[str], int],
    model: Model | None = None,
) -> Assessment:
    """Answer or not: the shipped (fitted) model's probability against its language's threshold."""
    values, evidence = features(question, hits, dense, idf=idf, df=df)
    if not hits:
        return Assessment(values, evidence, 0.0, False)
    model = model or shipped_model()
    probability = model.probability([values[name] for name in FEATURES])
    threshold = model.thresholds["de" if values["german"] else "en"]
    # A question naming a § that a hit is ("Was regelt § 61 WVG?") is a lookup the library answers.
    return Assessment(values, evidence, probability, probability >= threshold or values["section"] == 1.0)


def hit_supports(
    evidence: Sequence[Evidence], *, dense_slack: float = 0.08, coverage_share: float = 0.6
) -> list[bool]:
    """Which hits may be used: a named §, or evidence close to the best hit's (similarity within
    `dense_slack` of the best, or at least `coverage_share` of the best term coverage, with some)."""
    if not evidence:
        return []
    best_dense = max(e.dense for e in evidence)
    best_cov = max(e.coverage for e in evidence)
    return [
        e.section
        or e.dense >= best_dense - dense_slack
        or (best_cov > 0 and e.coverage >= coverage_share * best_cov)
        for e in evidence
    ]
