"""`make bench`: run the registered benchmarks, save each result as JSON, print Markdown tables.

    python -m benchmarks.run [--only NAME] [--quick] [--postgres]

Results go to benchmarks/results/<name>-<UTC timestamp>.json (gitignored). Figures worth keeping are
pasted into BENCHMARKS.md with the machine and date. Every benchmark reports ratios against a baseline
measured in the same run: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    anomalies,
    api_load,
    bandit_regret,
    dispatch_latency,
    fidelity,
    forecast_backtest,
    forecast_real,
    hardening,
    ingest,
    ingest_throughput,
    luna_answers,
    luna_tools,
    memory,
    modbus_polling,
    optimize_api,
    optimizer,
    queries,
    rag_latency,
    retrieval_beir,
    retrieval_german,
    simulation,
    telemetry_ingest,
    web_ui,
)
from benchmarks.common import machine, machine_line

Benchmark = Callable[..., dict[str, Any]]  # keyword arguments: quick, postgres

REGISTRY: dict[str, Benchmark] = {
    "api_load": api_load.run,
    "ingest": ingest.run,
    "queries": queries.run,
    "simulation": simulation.run,
    "memory": memory.run,
    "fidelity": fidelity.run,
    # knowledge (SQLite and the embedded vector index only; they ignore --postgres)
    "retrieval_beir": retrieval_beir.run,
    "retrieval_german": retrieval_german.run,
    "ingest_throughput": ingest_throughput.run,
    "rag_latency": rag_latency.run,
    # decisions (in memory; they ignore --postgres)
    "optimizer": optimizer.run,
    "optimize_api": optimize_api.run,
    "forecast_backtest": forecast_backtest.run,
    "forecast_real": forecast_real.run,
    "anomalies": anomalies.run,
    # hardening (issue 9): abusive and large requests against a real server
    "hardening": hardening.run,
    # dashboards (issue 11): the web app in a real browser
    "web_ui": web_ui.run,
    # field devices (issue 12): 50 Modbus TCP devices polled at 5 s
    "modbus_polling": modbus_polling.run,
    # dispatch (issue 12): step start to setpoint received over MQTT
    "dispatch_latency": dispatch_latency.run,
    # learning loop (issue 13): anonymous telemetry events through the service
    "telemetry_ingest": telemetry_ingest.run,
    # learning loop (issue 13): bandit regret on simulated operators, /recommend latency
    "bandit_regret": bandit_regret.run,
    # Luna answers from the site's data (issue 14): intent-parser accuracy on the data questions
    "luna_tools": luna_tools.run,
    # Luna answers truthfully (issue 14): answerability, injection, citations of /rag/ask (extractive)
    "luna_answers": luna_answers.run,
}
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def run_one(name: str, *, quick: bool, postgres: bool) -> Path:
    started = datetime.now(UTC)
    result = REGISTRY[name](quick=quick, postgres=postgres)
    info = machine()
    result = {
        "name": name,
        "date": started.isoformat(timespec="seconds"),
        "machine": info,
        **result,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n## {name}: {result.get('title', '')}\n")
    print(markdown_table(result["columns"], result["rows"]))
    print(f"\nDate: {result['date']}. Machine: {machine_line(info)}.")
    for note in result.get("notes", []):
        print(f"Note: {note}.")
    print(f"Saved {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(REGISTRY), help="run only this benchmark")
    parser.add_argument("--quick", action="store_true", help="short durations: a smoke run, not figures")
    parser.add_argument("--postgres", action="store_true", help="also measure on a throwaway PostgreSQL")
    args = parser.parse_args(argv)
    for name in [args.only] if args.only else list(REGISTRY):
        run_one(name, quick=args.quick, postgres=args.postgres)
    return 0


if __name__ == "__main__":
    sys.exit(main())
