"""Latency of `POST /rag/ask` (extractive answers) and `GET /search` with about 10,000 chunks indexed.

Build, in process (no HTTP), into a fresh SQLite data directory with the default settings: the three
German laws (EnWG, EEG 2021, MsbG) through `ingest_document` as Markdown, then ArguAna documents in
corpus order through `ingest_text` until the index holds at least 10,000 chunks.
Then one `luna serve` process on that directory (no scheduler, no warm-up, no chat model:
GENERATOR_BACKEND=extractive) and one sequential client (httpx, keep-alive). 50 queries: the 30
German law questions and the headlines of the first 20 ArguAna queries (the text before the first
double space: a one-sentence English claim). Scenarios, each after 3 warm-up requests:
  baseline   GET /health/live (the floor of harness + uvicorn + FastAPI), also repeated last (drift)
  search     GET /search?q=...  (hybrid, top_k 10)
  ask        POST /rag/ask {"question": ...}  (retrieval with top_k 5, then the extractive answer,
             which embeds the question and the sentences of the first three cited chunks)
`p50_vs_live` and `p95_vs_live` are ratios to the first baseline's p50.
--quick: MsbG and 300 ArguAna documents, 10 queries.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, percentiles_ms, serve_process
from benchmarks.knowledge_data import ingest_laws, knowledge_container, load_arguana, load_questions, warm_up

CHUNKS = 10_000
QUERIES = 50
QUICK_DOCS, QUICK_QUERIES = 300, 10
WARM_UP = 3


def build(data_dir: Path, quick: bool) -> dict[str, Any]:
    from luna_iems.knowledge.schemas import TextIn
    from luna_iems.knowledge.service import ingest_text

    data = load_arguana()
    container = knowledge_container(data_dir)
    try:
        warm_up(container)
        started = time.perf_counter()
        _, chunks = ingest_laws(container, ["msbg"] if quick else None)
        law_chunks, documents = chunks, 0
        for doc_id, doc in data.corpus.items():
            if (quick and documents >= QUICK_DOCS) or (not quick and chunks >= CHUNKS):
                break
            text = f"{doc['title']}\n\n{doc['text']}" if doc["title"].strip() else doc["text"]
            done = ingest_text(
                deps=container.knowledge_deps,
                text_in=TextIn(title=doc["title"][:500] or doc_id, text=text, source=doc_id),
            )
            chunks += 0 if done.duplicate else done.chunks
            documents += 1
        seconds = time.perf_counter() - started
    finally:
        container.close()
    return {
        "law_chunks": law_chunks,
        "arguana_documents": documents,
        "chunks": chunks,
        "build_s": round(seconds, 1),
    }


def queries(count: int) -> tuple[list[str], list[str]]:
    """(German, English): 3/5 of `count` German law questions, the rest ArguAna headlines."""
    german = [q["question"] for q in load_questions()][: count * 3 // 5]
    english = [text.split("  ", 1)[0].strip() for text in load_arguana().queries.values()]
    return german, english[: count - len(german)]


def _timed(client: httpx.Client, requests: list[tuple[str, str, Any]]) -> tuple[list[float], list[Any]]:
    latencies, bodies = [], []
    for method, path, payload in requests:
        started = time.perf_counter()
        get = method == "GET"
        response = client.get(path, params=payload) if get else client.post(path, json=payload)
        latencies.append(time.perf_counter() - started)
        if not response.is_success:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        bodies.append(response.json())
    return latencies, bodies


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del postgres  # SQLite and the embedded vector index only
    german, english = queries(QUICK_QUERIES if quick else QUERIES)
    asked = german + english
    live = [("GET", "/health/live", None)] * len(asked)
    scenarios = [
        ("baseline", "GET /health/live", live),
        ("search", "GET /search (hybrid, top_k 10)", [("GET", "/search", {"q": q}) for q in asked]),
        ("ask", "POST /rag/ask (extractive)", [("POST", "/rag/ask", {"question": q}) for q in asked]),
        ("baseline (repeat)", "GET /health/live", live),
    ]
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    raw: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="luna-bench-rag-") as tmp:
        data_dir = Path(tmp) / "var"
        built = build(data_dir, quick)
        env = EMPTY_SERVICE | {"GENERATOR_BACKEND": "extractive"}
        with (
            serve_process(None, data_dir, env) as server,
            httpx.Client(base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=120) as client,
        ):
            for scenario, endpoint, requests in scenarios:
                _timed(client, requests[:WARM_UP])  # loads the model and the lexical index on first use
                latencies, bodies = _timed(client, requests)
                rows.append(
                    {
                        "scenario": scenario,
                        "endpoint": endpoint,
                        "requests": len(requests),
                        **percentiles_ms(latencies),
                    }
                )
                raw[scenario] = [round(s * 1000, 1) for s in latencies]
                if scenario in ("search", "ask"):
                    split = len(german)
                    extra[f"{scenario}_p50_ms_de"] = percentiles_ms(latencies[:split])["p50_ms"]
                    extra[f"{scenario}_p50_ms_en"] = percentiles_ms(latencies[split:])["p50_ms"]
                if scenario == "search":
                    extra["search_took_ms_p50"] = sorted(b["took_ms"] for b in bodies)[len(bodies) // 2]
                if scenario == "ask":
                    extra["ask_found_relevant"] = sum(b["found_relevant"] for b in bodies)
                    extra["ask_mean_citations"] = round(
                        sum(len(b["citations"]) for b in bodies) / len(bodies), 2
                    )
    floor = rows[0]["p50_ms"]
    for row in rows:
        row["p50_vs_live"] = round(row["p50_ms"] / floor, 1)
        row["p95_vs_live"] = round(row["p95_ms"] / floor, 1)
    return {
        "title": f"RAG latency with {built['chunks']} chunks: {len(asked)} sequential requests per scenario",
        "params": {"quick": quick, "queries": len(asked), **built},
        "columns": [
            "scenario",
            "endpoint",
            "requests",
            "p50_ms",
            "p95_ms",
            "max_ms",
            "p50_vs_live",
            "p95_vs_live",
        ],
        "rows": rows,
        "queries": asked,
        "latencies_ms": raw,
        "notes": [
            f"index: {built}",
            f"answers: {extra}",
            "one client, sequential, after 3 warm-up requests",
        ],
    }
