"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from luna_iems import __version__

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "luna_http_requests",
            "HTTP requests by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "luna_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "luna_http_requests_in_flight", "HTTP requests being served.", registry=self.registry
        )
        self.job_duration = Histogram(
            "luna_job_duration_seconds",
            "Run time of scheduled jobs (rollups, retention, rules, anomaly detection).",
            ("job",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.job_failures = Counter(
            "luna_job_failures", "Scheduled job runs that raised.", ("job",), registry=self.registry
        )
        self.audit_suppressed = Counter(
            "luna_audit_anonymous_suppressed",
            "Refused anonymous writes past AUDIT_ANONYMOUS_PER_MINUTE, summarised instead of one row each.",
            registry=self.registry,
        )
        build = Gauge(
            "luna_build_info",
            "Build information (always 1).",
            ("version", "python"),
            registry=self.registry,
        )
        build.labels(version=__version__, python=platform.python_version()).set(1)

    def observe_job(self, job_id: str, seconds: float, failed: bool) -> None:
        self.job_duration.labels(job=job_id).observe(seconds)
        if failed:
            self.job_failures.labels(job=job_id).inc()

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)
