"""German law retrieval: Recall@5, MRR@5 and the § cited by `/rag/ask`, on a dev and a test split.

The three laws (benchmarks/data/de-laws) go through `knowledge.service.ingest_document` as Markdown
uploads into a fresh SQLite data directory (chunk size 200, overlap 32, the defaults). Questions:

* dev, benchmarks/data/german_law_questions.jsonl (30): earlier settings were tuned on these
  (e.g. DENSE_WEIGHT_GERMAN 0.35), and so were the § terms and compound splitting of knowledge/german.py;
* test, benchmarks/data/german_law_questions_test.jsonl (48): written before any of that tuning and
  never used for it; its figures are the ones to quote.

Each question is answered by exactly one section (§) of one law, checked by hand in the text. A
question counts as found when one of the top 5 hits of `knowledge.retrieval.search` is a chunk whose
`section` equals that § and whose item is that law. Recall@5 is the share found; MRR@5 the mean of
1 / (rank of the first correct hit).

Rows, all on the same index in the same run (the baseline is "hybrid, previous"):

* dense, lexical: one ranking alone;
* hybrid, previous: the query-time method before § terms, compound splitting and the section ranking
  (the query's "§" signs removed, which gives exactly the previous lexical terms and no named
  section; SPLIT_COMPOUNDS off; DENSE_WEIGHT_GERMAN at its previous 0.35). The index itself is the
  current one (short law labels in the heading prefix, § terms in the chunks);
* hybrid, before section collapsing and law names: the default of 2026-12-06 before these two
  (MAX_CHUNKS_PER_SECTION=0, retrieval.LAW_ALIASES off, DENSE_WEIGHT_GERMAN 0.2); the "§" tie-break of
  language detection is not switched off here. The previous-baseline row has both off as well;
* hybrid: the current default (§ terms and section ranking, compound splitting, DENSE_WEIGHT_GERMAN,
  section collapsing, law-name aliases).

"§ cited" asks every question through `knowledge.rag.answer` with the extractive (offline)
generator and counts the answers whose first citation (the top-ranked relevant source, which the
extractive answer always quotes) is the right § of the right law; a second row counts the answers that
quote the right § in any of their [n].
--quick: MsbG and its questions only. `--split dev` (or `--split test`) measures one split only
(tune on dev alone: `--split dev` never reads the test questions). `python -m benchmarks.retrieval_german
254` uses another size.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.knowledge_data import LAWS, ingest_laws, knowledge_container, load_questions, warm_up

SIZE = 200
OVERLAP = 32
TOP_K = 5
SPLITS = ("dev", "test")
# (label, mode, settings overrides, strip "§" from the query text)
VARIANTS: tuple[tuple[str, str, dict[str, Any], bool], ...] = (
    ("dense", "dense", {}, False),
    ("lexical", "lexical", {}, False),
    (
        "hybrid, previous (baseline)",
        "hybrid",
        {
            "split_compounds": False,
            "dense_weight_german": 0.35,
            "max_chunks_per_section": 0,
            "law_aliases": False,
        },
        True,
    ),
    (
        "hybrid, before section collapsing and law names",
        "hybrid",
        {"dense_weight_german": 0.2, "max_chunks_per_section": 0, "law_aliases": False},
        False,
    ),
    ("hybrid", "hybrid", {}, False),
)


def correct(hit: Any, question: dict[str, str], item_law: dict[str, str]) -> bool:
    return bool(hit.section == question["section"] and item_law.get(str(hit.item_id)) == question["law"])


def first_correct(hits: list[Any], question: dict[str, str], item_law: dict[str, str]) -> int | None:
    for rank, hit in enumerate(hits[:TOP_K], start=1):
        if correct(hit, question, item_law):
            return rank
    return None


def _row(split: str, label: str, questions: list[dict[str, str]], ranks: list[int | None]) -> dict[str, Any]:
    found = [r for r in ranks if r is not None]
    return {
        "split": split,
        "mode": label,
        "recall@5": round(len(found) / len(questions), 3),
        "found": f"{len(found)}/{len(questions)}",
        "mrr@5": round(statistics.fmean([1 / r if r else 0.0 for r in ranks]), 3),
        "missed": " ".join(q["id"] for q, r in zip(questions, ranks, strict=True) if r is None),
    }


def measure(
    size: int, laws: list[str], splits: dict[str, list[dict[str, str]]]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    from luna_iems.knowledge import retrieval
    from luna_iems.knowledge.rag import answer
    from luna_iems.knowledge.retrieval import search
    from luna_iems.knowledge.schemas import AskIn

    rows, details, info = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="luna-bench-de-") as tmp:
        container = knowledge_container(
            Path(tmp) / "var", chunk_max_tokens=size, chunk_overlap_tokens=OVERLAP
        )
        try:
            warm_up(container)
            started = time.perf_counter()
            item_law, chunks = ingest_laws(container, laws)
            info = {"chunks": chunks, "ingest_s": round(time.perf_counter() - started, 1)}
            base = container.settings
            for split, questions in splits.items():
                vectors = container.embedder.embed([q["question"] for q in questions], kind="query")
                for label, mode, overrides, strip in VARIANTS:
                    settings = dict(overrides)
                    retrieval.LAW_ALIASES = bool(settings.pop("law_aliases", True))
                    container.settings = base.model_copy(update=settings)
                    ranks = []
                    for question, vector in zip(questions, vectors, strict=True):
                        text = question["question"].replace("§", " ") if strip else question["question"]
                        result = search(
                            deps=container.knowledge_deps,
                            query=text,
                            top_k=TOP_K,
                            mode=mode,  # type: ignore[arg-type]
                            query_vector=None if mode == "lexical" else vector,
                        )
                        ranks.append(first_correct(result.hits, question, item_law))
                        details[f"{split}/{label}/{question['id']}"] = [
                            f"{item_law.get(str(h.item_id))} {h.section}" for h in result.hits
                        ]
                    rows.append(_row(split, label, questions, ranks))
                container.settings = base
                retrieval.LAW_ALIASES = True
                cited = quoted = 0
                for question in questions:
                    out = answer(container.knowledge_deps, AskIn(question=question["question"]), key_id=None)
                    first = out.citations[0] if out.citations else None
                    ok = first is not None and correct(first, question, item_law)
                    cited += ok
                    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", out.answer)}
                    quoted += any(c.n in numbers and correct(c, question, item_law) for c in out.citations)
                    details[f"{split}/cited/{question['id']}"] = (
                        f"{item_law.get(str(first.item_id))} {first.section}" if first else None
                    )
                rows.append(
                    {
                        "split": split,
                        "mode": "/rag/ask, extractive: right § cited first",
                        "recall@5": round(cited / len(questions), 3),
                        "found": f"{cited}/{len(questions)}",
                        "mrr@5": None,
                        "missed": " ".join(
                            q["id"]
                            for q in questions
                            if not str(details[f"{split}/cited/{q['id']}"]).endswith(q["section"])
                            or not str(details[f"{split}/cited/{q['id']}"]).startswith(q["law"])
                        ),
                    }
                )
                rows.append(
                    {
                        "split": split,
                        "mode": "/rag/ask, extractive: right § among the sources the answer quotes",
                        "recall@5": round(quoted / len(questions), 3),
                        "found": f"{quoted}/{len(questions)}",
                        "mrr@5": None,
                        "missed": "",
                    }
                )
        finally:
            container.close()
    return rows, details, info


def run(
    *,
    quick: bool = False,
    postgres: bool = False,
    sizes: tuple[int, ...] = (SIZE,),
    only: tuple[str, ...] = SPLITS,
) -> dict[str, Any]:
    del postgres  # SQLite and the embedded vector index only
    laws = ["msbg"] if quick else list(LAWS)
    splits = {split: load_questions(laws, split=split) for split in only}
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for size in sizes:
        measured, hits, info = measure(size, laws, splits)
        rows += [{"chunk_max_tokens": size, **r} for r in measured]
        details |= hits
    notes = []
    for split in splits:
        by_mode = {r["mode"]: r for r in rows if r["split"] == split}
        new = by_mode["hybrid"]
        for name in ("hybrid, previous (baseline)", "hybrid, before section collapsing and law names"):
            old = by_mode[name]
            if old["recall@5"]:
                notes.append(
                    f"{split}: hybrid / {name} Recall@5 = {new['recall@5'] / old['recall@5']:.2f}, "
                    f"MRR@5 {new['mrr@5']} vs {old['mrr@5']}"
                )
    return {
        "title": "German law questions: Recall@5, MRR@5 and § cited ("
        + ", ".join(f"{split} {len(questions)}" for split, questions in splits.items())
        + f" questions; {', '.join(laws)})",
        "params": {
            "quick": quick,
            "sizes": list(sizes),
            "splits": list(splits),
            "overlap": OVERLAP,
            "top_k": TOP_K,
            "laws": laws,
        },
        "columns": ["chunk_max_tokens", "split", "mode", "recall@5", "found", "mrr@5", "missed"],
        "rows": rows,
        "hits": details,
        "notes": [*notes, f"index: {info}"],
    }


if __name__ == "__main__":  # python -m benchmarks.retrieval_german [--quick] [--split dev] [200 254 ...]
    import json
    import sys

    chosen = tuple(int(a) for a in sys.argv[1:] if a.isdigit()) or (SIZE,)
    only = SPLITS
    if "--split" in sys.argv:
        name = sys.argv[sys.argv.index("--split") + 1]
        if name not in SPLITS:
            raise SystemExit(f"--split: one of {', '.join(SPLITS)}")
        only = (name,)
    result = run(quick="--quick" in sys.argv, sizes=chosen, only=only)
    print(json.dumps({k: v for k, v in result.items() if k not in ("columns", "hits")}, indent=2))
