"""Intent-parser accuracy on Luna's site-data questions (`data/luna_questions/data_questions.jsonl`).

Each question (German and English, `kind: data`) names the tool that should answer it and the period
it names (site-calendar days `first/end`, end exclusive; null when it names none), relative to a fixed
now, 2026-12-06T10:00Z (a Sunday, Europe/Berlin), with one site. The parser (`assistant.intents.parse`)
is scored on the tool, the period, and both; per language too. Baseline in the same run: the majority
answer (always the most common tool of the set with no period), so the figures say what the parser adds
over guessing. No database and no model: the parser is pure; `--postgres` is ignored.

The set was written together with the parser (it is its development set, not a held-out test).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from luna_iems.assistant import intents

DATA = Path(__file__).resolve().parent / "data" / "luna_questions" / "data_questions.jsonl"
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TIMEZONE = "Europe/Berlin"
COLUMNS = ["method", "lang", "questions", "tool_acc", "period_acc", "both_acc"]


def load() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") == "data"]


def _score(
    method: str, lang: str, rows: list[dict[str, Any]], answers: list[tuple[str | None, str | None]]
) -> dict[str, Any]:
    tool = [a[0] == r["expected_tool"] for r, a in zip(rows, answers, strict=True)]
    period = [a[1] == r["expected_period"] for r, a in zip(rows, answers, strict=True)]
    n = len(rows)
    return {
        "method": method,
        "lang": lang,
        "questions": n,
        "tool_acc": round(sum(tool) / n, 3),
        "period_acc": round(sum(period) / n, 3),
        "both_acc": round(sum(t and p for t, p in zip(tool, period, strict=True)) / n, 3),
    }


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    rows = load()
    started = time.perf_counter()
    parsed = [intents.parse(r["question"], now=NOW, timezone=TIMEZONE, sites=["sim"]) for r in rows]
    seconds = time.perf_counter() - started
    parser = [(p.tool if p else None, p.period.key if p and p.period else None) for p in parsed]
    majority_tool = Counter(r["expected_tool"] for r in rows).most_common(1)[0][0]
    baseline: list[tuple[str | None, str | None]] = [(majority_tool, None)] * len(rows)
    table = []
    for lang in ("all", "de", "en"):
        keep = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
        subset = [rows[i] for i in keep]
        table.append(_score("intent parser", lang, subset, [parser[i] for i in keep]))
        table.append(
            _score(f"majority ({majority_tool}, no period)", lang, subset, [baseline[i] for i in keep])
        )
    misses = [
        {"question": r["question"], "expected": [r["expected_tool"], r["expected_period"]], "got": list(a)}
        for r, a in zip(rows, parser, strict=True)
        if a != (r["expected_tool"], r["expected_period"])
    ]
    return {
        "name": "luna_tools",
        "columns": COLUMNS,
        "rows": table,
        "misses": misses,
        "parse_us_per_question": round(seconds / len(rows) * 1e6, 1),
        "now": NOW.isoformat(),
    }
