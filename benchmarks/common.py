"""Shared benchmark helpers: the machine line, a real `luna serve` process, latency summaries.

The service is started as `make run` starts it (a uvicorn process), in its own temporary working
directory so that a developer's `.env` cannot change what is measured.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

_THREAD_LIMITS = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def _proc_field(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, Any]:
    """CPU model, usable cores, RAM, Python and OS: recorded with every figure."""
    mem_kb = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        os_name = platform.system()
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name"),
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gb": round(int(mem_kb) / 1024**2, 1) if mem_kb.isdigit() else None,
        "python": platform.python_version(),
        "os": f"{os_name}, kernel {platform.release()}",
    }


def machine_line(info: Mapping[str, Any]) -> str:
    cores = f"{info['nproc']} cores, {info['ram_gb']} GB RAM"
    return f"{info['cpu']}, {cores}, Python {info['python']}, {info['os']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of a `luna` process: this one's, minus any API_/DATABASE_/LUNA_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "DATABASE_", "LUNA_"))}
    settings = {"DATA_DIR": str(data_dir), "DATABASE_URL": database_url or "", "LOG_LEVEL": "WARNING"}
    return env | _THREAD_LIMITS | settings


def luna(env: Mapping[str, str], *args: str) -> str:
    """Run `python -m luna_iems ARGS` with `env` (from `service_env`); returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "luna_iems", *args],
        env=dict(env),
        cwd=Path(env["DATA_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"luna {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


@dataclass(frozen=True)
class Server:
    """A running `luna serve`: its base URL and process id (for /proc/<pid>/status)."""

    base: str
    pid: int


@contextmanager
def serve_process(
    database_url: str | None = None,
    data_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Start `python -m luna_iems serve` on a free port with a temporary DATA_DIR (or `data_dir`),
    LOG_LEVEL=WARNING and `extra_env`; yield it once /health/live answers; stop it with SIGINT."""
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        env = service_env(data_dir or Path(tmp) / "var", database_url) | dict(extra_env or {})
        port = _free_port()
        log_path = Path(tmp) / "serve.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "luna_iems", "serve"],
                env={**env, "API_PORT": str(port)},
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_live(process, base, log_path)
                yield Server(base=base, pid=process.pid)
            finally:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def serve(database_url: str | None = None, data_dir: Path | None = None) -> Iterator[str]:
    """`serve_process` without extra settings; yields the base URL."""
    with serve_process(database_url, data_dir) as server:
        yield server.base


def _wait_live(process: subprocess.Popen[bytes], base: str, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"luna serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"luna serve not live after {timeout_s} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class Summary:
    """Latency over successful requests; `rps` counts successful requests only."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(latencies_s: Sequence[float], errors: int, seconds: float) -> Summary:
    """p50/p90/p99/max (ms) of the successful requests' latencies, requests/s, errors."""
    ms = np.asarray(latencies_s, dtype=float) * 1000 if latencies_s else np.zeros(1)
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    return Summary(
        requests=len(latencies_s) + errors,
        errors=errors,
        seconds=round(seconds, 2),
        rps=round(len(latencies_s) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(p50, 2),
        p90_ms=round(p90, 2),
        p99_ms=round(p99, 2),
        max_ms=round(float(ms.max()), 2),
    )


# --- energy-data benchmarks ---------------------------------------------------------------------
ADMIN_KEY = "bench-admin-key-0123456789abcdef"  # registered by the server at start (LUNA_ADMIN_KEY)
# An empty server with nothing running in the background: no demo data, no scheduler (rollup job), no
# embedding-model warm-up (a one-off load that would compete for the cores with what is measured).
EMPTY_SERVICE = {
    "SEED_DEMO_DATA": "false",
    "ENABLE_SCHEDULER": "false",
    "EMBEDDING_WARMUP": "false",
    "LUNA_ADMIN_KEY": ADMIN_KEY,
}


@contextmanager
def postgres_database(name: str = "luna_bench") -> Iterator[str]:
    """A throwaway PostgreSQL server (tests/support/postgres.py) with one database; yields its URL."""
    from tests.support.postgres import start_postgres

    server = start_postgres()
    try:
        server.create_database(name)
        yield server.url(name)
    finally:
        server.stop()


def databases(postgres: bool) -> Iterator[tuple[str, str | None]]:
    """("sqlite", None), then ("postgresql", url) with `postgres`: the server lives while iterated."""
    yield "sqlite", None
    if postgres:
        with postgres_database() as url:
            yield "postgresql", url


def in_process_container(data_dir: Path, database_url: str | None) -> Any:
    """A migrated `Container` on the database a server with the same DATA_DIR/DATABASE_URL would use."""
    from luna_iems.bootstrap import build_container
    from luna_iems.db import migrate
    from luna_iems.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url or None,
        seed_demo_data=False,
        enable_scheduler=False,
    )
    container = build_container(settings)
    migrate.upgrade(container.engine)
    return container


def proc_status_kb(pid: int, key: str) -> int:
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM, ...) in kB."""
    return int(_proc_field(f"/proc/{pid}/status", key).split()[0])


def percentiles_ms(latencies_s: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(latencies_s, dtype=float) * 1000
    p50, p95 = (float(v) for v in np.percentile(ms, [50, 95]))
    return {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "max_ms": round(float(ms.max()), 2)}
