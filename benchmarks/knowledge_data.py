"""Shared helpers of the knowledge benchmarks: the bundled data sets, a knowledge container, metrics.

Data (see benchmarks/data/README.md): BEIR ArguAna (test split) and three German energy laws as
Markdown, copied into the repository so a clone can run the benchmarks without ../shared.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
ARGUANA = DATA / "beir-arguana"
LAWS_DIR = DATA / "de-laws"
QUESTIONS = DATA / "german_law_questions.jsonl"  # the dev split: earlier settings were tuned on it
DEV2_QUESTIONS = DATA / "german_law_questions_dev2.jsonl"  # a second tuning split (everyday wording)
TEST_QUESTIONS = DATA / "german_law_questions_test.jsonl"  # held out: report only, never tune on it
SPLITS = {"dev": QUESTIONS, "dev2": DEV2_QUESTIONS, "test": TEST_QUESTIONS}
# law key -> (file, title): the keys are the "law" values of german_law_questions.jsonl
LAWS = {
    "enwg": ("enwg.md", "Energiewirtschaftsgesetz (EnWG)"),
    "eeg": ("eeg_2021.md", "Erneuerbare-Energien-Gesetz (EEG 2021)"),
    "msbg": ("msbg.md", "Messstellenbetriebsgesetz (MsbG)"),
}


@dataclass(frozen=True)
class Arguana:
    corpus: dict[str, dict[str, str]]  # doc id -> {"title", "text"}, in file order
    queries: dict[str, str]  # query id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def load_arguana() -> Arguana:
    with gzip.open(ARGUANA / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = {d["_id"]: {"title": d["title"], "text": d["text"]} for d in map(json.loads, fh)}
    with (ARGUANA / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = {q["_id"]: q["text"] for q in map(json.loads, fh)}
    qrels: dict[str, dict[str, int]] = {}
    with (ARGUANA / "qrels" / "test.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):  # CRLF lines: the csv module strips them
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return Arguana(corpus=corpus, queries={q: queries[q] for q in qrels}, qrels=qrels)


def arguana_subset(data: Arguana, documents: int) -> Arguana:
    """A deterministic subset of about `documents` documents and the queries it can answer.

    Queries are taken in file order; each brings its judged documents and its own id (so the
    self-match quirk stays), until the budget is half used; the rest is filled in corpus order.
    """
    chosen: dict[str, None] = {}
    for qid, judged in data.qrels.items():
        if len(chosen) >= documents // 2:
            break
        wanted = [d for d in (*judged, qid) if d in data.corpus]
        if any(d in data.corpus for d in judged):
            chosen.update(dict.fromkeys(wanted))
    for doc_id in data.corpus:
        if len(chosen) >= documents:
            break
        chosen.setdefault(doc_id, None)
    qrels = {q: j for q, j in data.qrels.items() if any(d in chosen for d in j)}
    return Arguana(
        corpus={d: data.corpus[d] for d in chosen},
        queries={q: data.queries[q] for q in qrels},
        qrels=qrels,
    )


def load_questions(laws: Iterable[str] | None = None, *, split: str = "dev") -> list[dict[str, str]]:
    wanted = set(laws or LAWS)
    with SPLITS[split].open(encoding="utf-8") as fh:
        return [q for q in map(json.loads, fh) if q["law"] in wanted]


def knowledge_container(data_dir: Path, **overrides: Any) -> Any:
    """A migrated container on SQLite under `data_dir`: embedded vector index, local model, no LLM."""
    from luna_iems.bootstrap import build_container
    from luna_iems.db import migrate
    from luna_iems.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        seed_demo_data=False,
        enable_scheduler=False,
        embedding_warmup=False,
        generator_backend="extractive",
        **overrides,
    )
    container = build_container(settings)
    migrate.upgrade(container.engine)
    return container


def warm_up(container: Any) -> None:
    """Load the model and the tokenizer before anything is timed."""
    container.embedder.embed(["warm-up"], kind="passage")
    container.token_counter("warm-up")


def ingest_laws(container: Any, laws: Iterable[str] | None = None) -> tuple[dict[str, str], int]:
    """Each law as a Markdown upload through `ingest_document`; returns ({item id: law}, chunks)."""
    from luna_iems.knowledge.service import Upload, ingest_document

    item_law: dict[str, str] = {}
    chunks = 0
    for law in laws or LAWS:
        filename, title = LAWS[law]
        upload = Upload(
            data=(LAWS_DIR / filename).read_bytes(), filename=filename, declared_type="text/markdown"
        )
        done = ingest_document(
            deps=container.knowledge_deps, upload=upload, title=title, tags=[law], source=law
        )
        item_law[str(done.item_id)] = law
        chunks += done.chunks
    return item_law, chunks


def ndcg_at_k(ranking: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    """trec_eval's ndcg_cut: gain = relevance, discount log2(rank + 1); the ideal ranking comes from
    the judgements, so a judged document missing from the corpus still counts in the ideal."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    relevant = {d for d, r in judged.items() if r > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
