"""/healthz (process up), /readyz (database, broker, storage reachable), /metrics (jobs by
status, workers alive or dead). Readiness leaves the workers out: the API accepts work while
they restart, and a load balancer must not take it away for that."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from sqlalchemy import func, select, text

from app import workerbeats
from app.api import context as ctx
from app.config import Settings
from app.queue import check_broker
from app.tables import Job

bp = Blueprint("health", __name__)

# Dispatch intervals without a touch of the liveness file before the worker counts as down.
WORKER_SILENT_AFTER = 3
REQUESTS = Counter("soundscape_http_requests_total", "HTTP requests", ["method", "status"])
JOBS = Gauge("soundscape_jobs", "Jobs by status", ["status"])
WORKERS = Gauge(
    "soundscape_workers",
    "Worker processes by queue: alive, or silent (died without stopping; gone after an hour)",
    ["queue", "state"],
)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    checks: dict[str, Callable[[], object]] = {
        "database": lambda: ctx.db().execute(text("SELECT 1")),
        "broker": lambda: check_broker(ctx.settings()),
        "storage": lambda: ctx.storage().check(),
    }
    if ctx.settings().embedded and ctx.settings().worker_alive_file.exists():
        checks["worker"] = lambda: check_embedded_worker(ctx.settings())
    report: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            report[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports every failure by name
            report[name] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in report.values())
    return {"status": "ready" if ready else "unavailable", "checks": report}, 200 if ready else 503


def check_embedded_worker(settings: Settings) -> None:
    """On the embedded default a live worker keeps its liveness file fresh; a stale file
    means it died (``soundscape serve`` restarts it). No file: no worker was ever started
    here, and the check is left out."""
    age = time.time() - settings.worker_alive_file.stat().st_mtime
    if age > WORKER_SILENT_AFTER * settings.dispatch_interval_seconds:
        raise RuntimeError(f"no worker heartbeat for {age:.0f} s")


@bp.get("/metrics")
def metrics() -> Response:
    counts = ctx.db().execute(select(Job.status, func.count()).group_by(Job.status)).all()
    JOBS.clear()
    for status, count in counts:
        JOBS.labels(status=status).set(count)
    WORKERS.clear()
    for (queue, state), count in workerbeats.census(ctx.db(), workerbeats.SILENCE_SECONDS).items():
        WORKERS.labels(queue=queue, state=state).set(count)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


@bp.after_app_request
def count_request(response: Response) -> Response:
    if request.endpoint not in (None, "health.metrics"):
        REQUESTS.labels(method=request.method, status=str(response.status_code)).inc()
    return response
