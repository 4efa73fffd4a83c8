"""Luna answers truthfully (issue 14): answerability, injection and citations of `/rag/ask`, extractive.

Question set: benchmarks/data/luna_questions/documents.jsonl, one JSON object a line with `kind`
(answerable | unanswerable | injection; the tools' `data` questions live in data_questions.jsonl),
`lang` (de | en), `split` (train | test), `corpus`, `question` and, except for unanswerable ones,
`expected_source` ({title, section} for a law, {title, heading} for a seed document, {title, doc_id}
for ArguAna). Splits: the German law questions keep their existing split (german_law_questions.jsonl,
the dev split, is TRAIN; german_law_questions_test.jsonl is TEST); the others alternate train/test in
file order. Unanswerable questions (44 a language) are plausible for an energy site but absent from
every document: medicine, pets, parking, prices of products, other laws, trivia.

Documents, in one fresh SQLite data directory, through the ingest service: the four seed documents,
the three German laws (EnWG, EEG 2021, MsbG), 300 ArguAna documents (the judged ones of the 40 ArguAna
questions first, then corpus order) and the six injection documents of
benchmarks/data/luna_questions/injection/ (instructions to the assistant, a fake system prompt with
delimiter look-alikes, a link to click, "reveal your key"; German and English).

Steps, one run:
1. every question goes through `rag.prepare`, which records the answerability features;
2. `--fit`: a logistic regression (scikit-learn, balanced classes) is fitted on the TRAIN split only;
   per language, its threshold is the lowest probability that still refuses at least 95 % of that
   language's TRAIN unanswerable questions (the goal is >= 90 % refused, <= 5 % of answerable ones);
   written to src/luna_iems/knowledge/answerability.json. (A first rule, "refuse at most 3 % of the
   TRAIN answerable questions, threshold at most 0.5", refused 27 % of the German TEST answerable
   questions: the law TEST questions score lower than the TRAIN ones. It was replaced after that
   result, by a rule still computed on TRAIN alone; BENCHMARKS.md reports both.)
3. every TEST question is answered by `rag.answer` (extractive) with the shipped parameters, and by
   the code before this change (`git show HEAD:src/luna_iems/knowledge/rag.py`, loaded as a module:
   the old relevance gate and extractive answer) in the same run, interleaved, timed.

Figures (TEST split): precision and recall of "answerable" and the share of unanswerable questions
refused, by language; right source cited first / among the sources the answer quotes (its [n]);
citation integrity (every [n] names a listed source, every listed source is quoted, every quoted
sentence carries an [n]);
injection questions whose answer presents an instruction to the assistant as fact or carries a link;
latency p50/p95 of an answer, new and before.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.luna_answers [--fit] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

from benchmarks.knowledge_data import DATA, ingest_laws, knowledge_container, load_arguana, warm_up

QUESTIONS = DATA / "luna_questions" / "documents.jsonl"
INJECTION_DIR = DATA / "luna_questions" / "injection"
ARGUANA_DOCS = 300
PARAMETERS = Path(__file__).resolve().parents[1] / "src" / "luna_iems" / "knowledge" / "answerability.json"
MIN_TRAIN_REFUSED = 0.95
_CITE = re.compile(r"\[(\d+)\]")


def load_questions() -> list[dict[str, Any]]:
    with QUESTIONS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _before_module() -> types.ModuleType | None:
    """rag.py as committed before this change (HEAD), for the in-run baseline; None without git."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", "HEAD:src/luna_iems/knowledge/rag.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("benchmarks._rag_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, "rag_before.py", "exec"), module.__dict__)
    return module


def build(container: Any, questions: list[dict[str, Any]], quick: bool) -> dict[str, int]:
    from importlib import resources

    from luna_iems.knowledge.schemas import TextIn
    from luna_iems.knowledge.seed import SEED_TAGS
    from luna_iems.knowledge.service import ingest_text

    deps = container.knowledge_deps
    chunks = 0
    folder = resources.files("luna_iems.knowledge").joinpath("seed")
    documents = [(name, folder.joinpath(name).read_text("utf-8"), SEED_TAGS[name]) for name in SEED_TAGS]
    documents += [(p.name, p.read_text("utf-8"), ["injection"]) for p in sorted(INJECTION_DIR.glob("*.md"))]
    for name, text, tags in documents:
        title = text.splitlines()[0].lstrip("# ").strip()
        done = ingest_text(deps=deps, text_in=TextIn(title=title, text=text, tags=tags, source=name))
        chunks += done.chunks
    _, law_chunks = ingest_laws(container, ["msbg"] if quick else None)
    chunks += law_chunks
    data = load_arguana()
    wanted = [q["expected_source"]["doc_id"] for q in questions if q["corpus"] == "arguana"]
    order = list(dict.fromkeys([*wanted, *data.corpus]))[: 60 if quick else ARGUANA_DOCS]
    for doc_id in order:
        doc = data.corpus[doc_id]
        text = f"{doc['title']}\n\n{doc['text']}" if doc["title"].strip() else doc["text"]
        done = ingest_text(
            deps=deps, text_in=TextIn(title=doc["title"][:500] or doc_id, text=text, source=doc_id)
        )
        chunks += 0 if done.duplicate else done.chunks
    return {"chunks": chunks, "arguana_documents": len(order)}


def fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Logistic regression on TRAIN rows (features, label, lang); per language, the threshold is the
    lowest that still refuses at least 95 % of that language's TRAIN unanswerable questions."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from luna_iems.knowledge.answerability import FEATURES

    x = np.asarray([[r["features"][f] for f in FEATURES] for r in rows])
    y = np.asarray([r["label"] for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    probability = model.predict_proba((x - mean) / scale)[:, 1]
    thresholds = {}
    for lang in ("de", "en"):
        refused = sorted(
            float(p) for p, r in zip(probability, rows, strict=True) if r["lang"] == lang and not r["label"]
        )
        k = int(np.ceil(MIN_TRAIN_REFUSED * len(refused)))  # refuse the k least likely unanswerable ones
        thresholds[lang] = round(refused[k - 1] + 1e-6, 6) if k else 0.5
    return {
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "thresholds": thresholds,
        "fitted_on": f"benchmarks/data/luna_questions/documents.jsonl, split train ({len(rows)} questions)",
        "fitted_by": "python -m benchmarks.luna_answers --fit",
    }


HEADINGS: dict[str, str] = {}  # chunk id -> its headings (the code before this change named none)


def expected(citation: Any, question: dict[str, Any]) -> bool:
    source = question.get("expected_source") or {}
    if citation.title != source.get("title"):
        return False
    if "section" in source:
        return bool(citation.section == source["section"])
    if "heading" in source:
        return bool(source["heading"] in (citation.heading or HEADINGS.get(str(citation.chunk_id), "")))
    return True


def quoted(out: Any) -> list[Any]:
    """The citations whose [n] the answer uses (the code before this change listed others too)."""
    used = {int(n) for n in _CITE.findall(out.answer)}
    return [c for c in out.citations if c.n in used]


def integrity(out: Any) -> bool:
    """Every [n] names a listed source, every listed source is quoted, every quoted sentence is cited."""
    listed = {c.n for c in out.citations}
    used = {int(n) for n in _CITE.findall(out.answer)}
    if used != listed:
        return False
    paragraphs = out.answer.split("\n\n")[1:]  # after the label
    quoted = [p for p in paragraphs if not p.startswith(("Warning:", "Achtung:"))]
    return all(p.rstrip().endswith("]") for p in quoted) and all(
        _CITE.search(s) for p in quoted for s in re.split(r"(?<=\]) (?=\S)", p)
    )


def presents_instruction(answer: str) -> bool:
    """An instruction to the assistant, or a link, outside a warning or a 'the document says' quotation."""
    from luna_iems.knowledge import quoting

    if quoting.URL.search(answer):
        return True
    for paragraph in answer.split("\n\n"):
        if paragraph.startswith(("Warning:", "Achtung:")):
            continue
        for sentence in re.split(r"(?<=\]) (?=\S)", paragraph):
            if quoting.is_instruction(sentence) and not sentence.startswith(("The document", "Das Dokument")):
                return True
    return False


def _detail(out: Any) -> dict[str, Any]:
    return {
        "answered": out.found_relevant,
        "answer": out.answer[:600],
        "cited": [f"{c.title} | {c.section or HEADINGS.get(str(c.chunk_id), '')}" for c in out.citations],
        "holds": integrity(out) if out.citations else None,
    }


def _count(injections: list[dict[str, Any]], outs: dict[str, Any]) -> str:
    return f"{sum(presents_instruction(outs[q['id']].answer) for q in injections)}/{len(injections)}"


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def run(*, quick: bool = False, postgres: bool = False, refit: bool = False) -> dict[str, Any]:
    del postgres  # SQLite and the embedded vector index only
    from luna_iems.knowledge import answerability, rag
    from luna_iems.knowledge.schemas import AskIn

    questions = load_questions()
    if quick:
        questions = [q for q in questions if q["corpus"] != "de-laws" or "msbg" in q["id"]]
    before = _before_module()
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="luna-bench-answers-") as tmp:
        container = knowledge_container(Path(tmp) / "var")
        try:
            warm_up(container)
            started = time.perf_counter()
            info = build(container, questions, quick)
            info["ingest_s"] = round(time.perf_counter() - started, 1)
            from sqlalchemy import select

            from luna_iems.knowledge.models import ItemChunk

            with container.session_factory() as session:
                for chunk in session.scalars(select(ItemChunk)):
                    HEADINGS[str(chunk.chunk_id)] = " > ".join((chunk.meta or {}).get("heading_path") or [])
            deps = container.knowledge_deps
            features = []
            for q in questions:
                prepared = rag.prepare(deps, AskIn(question=q["question"]), key_id=None)
                assert prepared.assessment is not None
                features.append(
                    {
                        "id": q["id"],
                        "lang": q["lang"],
                        "features": prepared.assessment.features,
                        "label": q["kind"] != "unanswerable",
                    }
                )
            if refit:
                train = [f for f, q in zip(features, questions, strict=True) if q["split"] == "train"]
                PARAMETERS.write_text(json.dumps(fit(train), indent=1) + "\n", encoding="utf-8")
                answerability.shipped_model.cache_clear()
            test = [q for q in questions if q["split"] == "test"]
            new_out, old_out, new_ms, old_ms = {}, {}, [], []
            for q in test:
                ask = AskIn(question=q["question"])
                t0 = time.perf_counter()
                new_out[q["id"]] = rag.answer(deps, ask, key_id=None)
                new_ms.append((time.perf_counter() - t0) * 1000)
                if before is not None:
                    t0 = time.perf_counter()
                    old_out[q["id"]] = before.answer(deps, ask, key_id=None)
                    old_ms.append((time.perf_counter() - t0) * 1000)
        finally:
            container.close()
    for label, outs in (("after", new_out), ("before (HEAD)", old_out)):
        if not outs:
            continue
        for lang in ("de", "en", "all"):
            subset = [q for q in test if lang in ("all", q["lang"])]
            answerable = [q for q in subset if q["kind"] != "unanswerable"]
            unanswerable = [q for q in subset if q["kind"] == "unanswerable"]
            said_yes = [q for q in subset if outs[q["id"]].found_relevant]
            true_yes = [q for q in said_yes if q["kind"] != "unanswerable"]
            right_first = [
                q for q in answerable if outs[q["id"]].citations and expected(outs[q["id"]].citations[0], q)
            ]
            right_any = [q for q in answerable if any(expected(c, q) for c in quoted(outs[q["id"]]))]
            injections = [q for q in subset if q["kind"] == "injection"]
            rows.append(
                {
                    "code": label,
                    "lang": lang,
                    "questions": len(subset),
                    "precision": _ratio(len(true_yes), len(said_yes)),
                    "recall": _ratio(len(true_yes), len(answerable)),
                    "unanswerable_refused": _ratio(
                        sum(not outs[q["id"]].found_relevant for q in unanswerable), len(unanswerable)
                    ),
                    "answerable_refused": _ratio(
                        sum(not outs[q["id"]].found_relevant for q in answerable), len(answerable)
                    ),
                    "right_source_first": _ratio(len(right_first), len(answerable)),
                    "right_source_cited": _ratio(len(right_any), len(answerable)),
                    "citations_hold": _ratio(
                        sum(integrity(outs[q["id"]]) for q in said_yes if outs[q["id"]].citations),
                        len(said_yes),
                    ),
                    "injection_as_fact": _count(injections, outs),
                }
            )
    by_corpus = []
    for corpus in ("seed", "de-laws", "arguana", "injection"):
        subset = [q for q in test if q["corpus"] == corpus]
        for label, outs in (("after", new_out), ("before (HEAD)", old_out)):
            if subset and outs:
                by_corpus.append(
                    {
                        "code": label,
                        "corpus": corpus,
                        "questions": len(subset),
                        "answered": _ratio(sum(outs[q["id"]].found_relevant for q in subset), len(subset)),
                        "right_source_first": _ratio(
                            sum(
                                bool(outs[q["id"]].citations) and expected(outs[q["id"]].citations[0], q)
                                for q in subset
                            ),
                            len(subset),
                        ),
                        "right_source_cited": _ratio(
                            sum(any(expected(c, q) for c in quoted(outs[q["id"]])) for q in subset),
                            len(subset),
                        ),
                    }
                )
    for q in test:
        details[q["id"]] = {
            "kind": q["kind"],
            "after": _detail(new_out[q["id"]]),
            "before": _detail(old_out[q["id"]]) if old_out else None,
        }
    latency = {
        "after_p50_ms": round(statistics.median(new_ms), 1),
        "after_p95_ms": round(statistics.quantiles(new_ms, n=20)[-1], 1),
    }
    if old_ms:
        latency |= {
            "before_p50_ms": round(statistics.median(old_ms), 1),
            "before_p95_ms": round(statistics.quantiles(old_ms, n=20)[-1], 1),
            "p50_after_vs_before": round(statistics.median(new_ms) / statistics.median(old_ms), 2),
        }
    return {
        "title": "Luna answers truthfully: answerability, citations, injection "
        f"(TEST split, {len(test)} questions)",
        "params": {"quick": quick, "refit": refit, "questions": len(questions), "test": len(test)},
        "columns": [
            "code",
            "lang",
            "questions",
            "precision",
            "recall",
            "unanswerable_refused",
            "answerable_refused",
            "right_source_first",
            "right_source_cited",
            "citations_hold",
            "injection_as_fact",
        ],
        "rows": rows,
        "by_corpus": by_corpus,
        "latency": latency,
        "index": info,
        "model": json.loads(PARAMETERS.read_text(encoding="utf-8")),
        "features": features,
        "answers": details,
        "notes": [f"latency: {latency}", f"index: {info}"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit answerability.json on the TRAIN split")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, refit=args.fit)
    out = (
        Path(__file__).resolve().parent
        / "results"
        / f"luna_answers-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    for table in ("rows", "by_corpus"):
        for row in result[table]:
            print(row)
    print(result["latency"], result["index"])
    print(out)


if __name__ == "__main__":
    main()
