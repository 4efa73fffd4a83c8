"""German law retrieval: Recall@5 on 30 questions about EnWG, EEG 2021 and MsbG, per chunk size.

The three laws (benchmarks/data/de-laws) go through `knowledge.service.ingest_document` as Markdown
uploads into a fresh SQLite data directory, once per chunk size (`chunk_max_tokens` 128, 200 and
254 word pieces, overlap 32; 200 is the current default). Each question of
benchmarks/data/german_law_questions.jsonl is answered by exactly one section (§) of one law, checked
by hand in the text. A question counts as found when one of the top 5 hits of
`knowledge.retrieval.search` is a chunk whose `section` equals that § and whose item is that law.
Recall@5 is the share of questions found; MRR@5 is the mean of 1 / (rank of the first correct hit).

The baseline of each row is the same questions on the same index in the other modes (dense, lexical,
hybrid), and the other chunk sizes. Hybrid runs twice: with the default fusion, where a German query's
dense ranking counts DENSE_WEIGHT_GERMAN (0.35), and with plain RRF (weight 1.0).
--quick: chunk size 200 only, MsbG and its 10 questions. `python -m benchmarks.retrieval_german 200`
runs the given chunk sizes only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.knowledge_data import LAWS, ingest_laws, knowledge_container, load_questions, warm_up

SIZES = (128, 200, 254)
OVERLAP = 32
TOP_K = 5
# (mode, dense weight for German queries): None keeps the setting (DENSE_WEIGHT_GERMAN, 0.35); the last
# row is plain RRF, where the English model's ranking counts as much as BM25's.
VARIANTS: tuple[tuple[str, float | None], ...] = (
    ("dense", None),
    ("lexical", None),
    ("hybrid", None),
    ("hybrid", 1.0),
)


def first_correct(hits: list[Any], question: dict[str, str], item_law: dict[str, str]) -> int | None:
    for rank, hit in enumerate(hits[:TOP_K], start=1):
        if hit.section == question["section"] and item_law.get(str(hit.item_id)) == question["law"]:
            return rank
    return None


def measure(
    size: int, laws: list[str], questions: list[dict[str, str]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from luna_iems.knowledge.retrieval import search

    rows, details = [], {}
    with tempfile.TemporaryDirectory(prefix="luna-bench-de-") as tmp:
        container = knowledge_container(
            Path(tmp) / "var", chunk_max_tokens=size, chunk_overlap_tokens=OVERLAP
        )
        try:
            warm_up(container)
            started = time.perf_counter()
            item_law, chunks = ingest_laws(container, laws)
            seconds = time.perf_counter() - started
            texts = [q["question"] for q in questions]
            vectors = container.embedder.embed(texts, kind="query")
            base = container.settings
            for mode, weight in VARIANTS:
                label = mode if weight is None else f"{mode}, dense weight {weight}"
                container.settings = (
                    base if weight is None else base.model_copy(update={"dense_weight_german": weight})
                )
                ranks = []
                for question, vector in zip(questions, vectors, strict=True):
                    result = search(
                        deps=container.knowledge_deps,
                        query=question["question"],
                        top_k=TOP_K,
                        mode=mode,
                        query_vector=None if mode == "lexical" else vector,
                    )
                    ranks.append(first_correct(result.hits, question, item_law))
                    details[f"{size}/{label}/{question['id']}"] = [
                        f"{item_law.get(str(h.item_id))} {h.section}" for h in result.hits
                    ]
                found = [r for r in ranks if r is not None]
                rows.append(
                    {
                        "chunk_max_tokens": size,
                        "mode": label,
                        "recall@5": round(len(found) / len(questions), 3),
                        "found": f"{len(found)}/{len(questions)}",
                        "mrr@5": round(statistics.fmean([1 / r if r else 0.0 for r in ranks]), 3),
                        "chunks": chunks,
                        "ingest_s": round(seconds, 1),
                        "missed": " ".join(
                            q["id"] for q, r in zip(questions, ranks, strict=True) if r is None
                        ),
                    }
                )
        finally:
            container.close()
    return rows, details


def run(*, quick: bool = False, postgres: bool = False, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    del postgres  # SQLite and the embedded vector index only
    laws = ["msbg"] if quick else list(LAWS)
    sizes = (200,) if quick else sizes
    questions = load_questions(laws)
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for size in sizes:
        measured, hits = measure(size, laws, questions)
        rows += measured
        details |= hits
    best = max(rows, key=lambda r: (r["recall@5"], r["mrr@5"]))
    return {
        "title": f"German law questions: Recall@5 by mode and chunk size ({len(questions)} questions, "
        f"{', '.join(laws)})",
        "params": {"quick": quick, "sizes": list(sizes), "overlap": OVERLAP, "top_k": TOP_K, "laws": laws},
        "columns": ["chunk_max_tokens", "mode", "recall@5", "found", "mrr@5", "chunks", "ingest_s", "missed"],
        "rows": rows,
        "hits": details,
        "notes": [
            f"best row: chunk_max_tokens={best['chunk_max_tokens']} {best['mode']} "
            f"(recall@5 {best['recall@5']}, mrr@5 {best['mrr@5']})"
        ],
    }


if __name__ == "__main__":  # python -m benchmarks.retrieval_german [--quick] [200 254 ...]
    import json
    import sys

    chosen = tuple(int(a) for a in sys.argv[1:] if a.isdigit()) or SIZES
    result = run(quick="--quick" in sys.argv, sizes=chosen)
    print(json.dumps({k: v for k, v in result.items() if k not in ("columns", "hits")}, indent=2))
