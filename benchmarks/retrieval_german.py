"""German law retrieval: Recall@5, MRR@5 and the § cited by `/rag/ask`, on dev, dev2 and test splits.

The three laws (benchmarks/data/de-laws) go through `knowledge.service.ingest_document` as Markdown
uploads into a fresh SQLite data directory (chunk size 200, overlap 32, the defaults). Questions:

* dev, benchmarks/data/german_law_questions.jsonl (30): earlier settings were tuned on these
  (e.g. DENSE_WEIGHT_GERMAN), and so were the § terms and compound splitting of knowledge/german.py;
* dev2, benchmarks/data/german_law_questions_dev2.jsonl (45): a second tuning split, written on
  2026-12-06 in everyday words (installer, municipal energy manager, household) that the laws do not
  use verbatim; the German query handling of that day (BM25 parameters, everyday words, compound heads)
  was tuned on dev + dev2. The same person wrote dev2 and the everyday-word table, so dev2 overstates;
* test, benchmarks/data/german_law_questions_test.jsonl (48): written before any of that tuning and
  never used for it; its figures are the ones to quote.

Each question is answered by exactly one section (§) of one law, checked by hand in the text. A
question counts as found when one of the top 5 hits of `knowledge.retrieval.search` is a chunk whose
`section` equals that § and whose item is that law. Recall@5 is the share found; MRR@5 the mean of
1 / (rank of the first correct hit).

Rows, all on the same index in the same run:

* dense, lexical: one ranking alone (lexical with the German query handling);
* hybrid, before (baseline): the default before the German query handling of 2026-12-06 (evening):
  retrieval.GERMAN_BM25 None, EVERYDAY_WEIGHT 0, COMPOUND_HEADS 0 (`BEFORE`);
* hybrid: the current default.

"§ cited" asks every question through `knowledge.rag.answer` with the extractive (offline)
generator, with the baseline and the default, and counts the answers whose first citation (the
top-ranked relevant source, which the extractive answer always quotes) is the right § of the right law;
a second row counts the answers that quote the right § in any of their [n].
--quick: MsbG and its questions only. `--split dev,dev2` measures those splits only (tune on them:
it never reads the test questions). `python -m benchmarks.retrieval_german 254` uses another size.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.knowledge_data import LAWS, ingest_laws, knowledge_container, load_questions, warm_up

SIZE = 200
OVERLAP = 32
TOP_K = 5
SPLITS = ("dev", "dev2", "test")
# German-only query handling of knowledge.retrieval switched off: the default before 2026-12-06 (evening)
BEFORE = {"GERMAN_BM25": None, "EVERYDAY_WEIGHT": 0.0, "COMPOUND_HEADS": 0}
# (label, mode, settings overrides, retrieval module attributes)
VARIANTS: tuple[tuple[str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("dense", "dense", {}, {}),
    ("lexical", "lexical", {}, {}),
    ("hybrid, before (baseline)", "hybrid", {}, BEFORE),
    ("hybrid", "hybrid", {}, {}),
)
CITED = (("hybrid, before (baseline)", BEFORE), ("hybrid", {}))


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
                for label, mode, overrides, attributes in VARIANTS:
                    container.settings = base.model_copy(update=overrides)
                    with _patched(retrieval, attributes):
                        ranks = []
                        for question, vector in zip(questions, vectors, strict=True):
                            result = search(
                                deps=container.knowledge_deps,
                                query=question["question"],
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
                for label, attributes in CITED:
                    with _patched(retrieval, attributes):
                        rows += _cited(container, split, label, questions, item_law, details, answer, AskIn)
        finally:
            container.close()
    return rows, details, info


@contextlib.contextmanager
def _patched(module: Any, attributes: dict[str, Any]) -> Iterator[None]:
    """Set module attributes for the duration of the block (the query-time switches of retrieval)."""
    old = {name: getattr(module, name) for name in attributes}
    try:
        for name, value in attributes.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


def _cited(
    container: Any,
    split: str,
    label: str,
    questions: list[dict[str, str]],
    item_law: dict[str, str],
    details: dict[str, Any],
    answer: Any,
    ask_in: Any,
) -> list[dict[str, Any]]:
    """Rows "right § cited first" and "right § among the quoted sources" of `/rag/ask`, extractive."""
    cited = quoted = 0
    missed = []
    for question in questions:
        out = answer(container.knowledge_deps, ask_in(question=question["question"]), key_id=None)
        first = out.citations[0] if out.citations else None
        ok = first is not None and correct(first, question, item_law)
        cited += ok
        if not ok:
            missed.append(question["id"])
        numbers = {int(n) for n in re.findall(r"\[(\d+)\]", out.answer)}
        quoted += any(c.n in numbers and correct(c, question, item_law) for c in out.citations)
        details[f"{split}/cited {label}/{question['id']}"] = (
            f"{item_law.get(str(first.item_id))} {first.section}" if first else None
        )
    n = len(questions)
    return [
        {
            "split": split,
            "mode": f"/rag/ask ({label}), extractive: right § cited first",
            "recall@5": round(cited / n, 3),
            "found": f"{cited}/{n}",
            "mrr@5": None,
            "missed": " ".join(missed),
        },
        {
            "split": split,
            "mode": f"/rag/ask ({label}), extractive: right § among the sources the answer quotes",
            "recall@5": round(quoted / n, 3),
            "found": f"{quoted}/{n}",
            "mrr@5": None,
            "missed": "",
        },
    ]


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
        for name in ("hybrid, before (baseline)",):
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
    if "--split" in sys.argv:  # one split or several: --split dev,dev2
        only = tuple(sys.argv[sys.argv.index("--split") + 1].split(","))
        if not set(only) <= set(SPLITS):
            raise SystemExit(f"--split: of {', '.join(SPLITS)}, comma-separated")
    result = run(quick="--quick" in sys.argv, sizes=chosen, only=only)
    print(json.dumps({k: v for k, v in result.items() if k not in ("columns", "hits")}, indent=2))
