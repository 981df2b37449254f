"""The HTML pages people read: a job's report (API and ``analyze --html`` alike) and the
web console. Jinja2 templates in app/templates, autoescaped, with no external assets."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

# Running and queued jobs' pages reload themselves this often (seconds).
REFRESH_SECONDS = 5
# Score sources in the order the scores table shows them, with the model role scoring each.
SCORE_SOURCES = (("mixture", "mixture_detector"), ("vocals", "vocal_detector"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = format_score
    env.filters["clock"] = format_clock
    env.filters["cell"] = format_cell
    return env


def format_score(value: float | None) -> str:
    """A probability with the digits that matter: 4 decimals, 9 near 0 or 1."""
    if value is None:
        return "not scored"
    return f"{value:.4f}" if 0.001 < value < 0.999 else f"{value:.9f}"


def format_clock(seconds: float) -> str:
    """m:ss.s"""
    minutes, rest = divmod(max(0.0, float(seconds)), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def format_cell(value: Any) -> str:
    """Any JSON value in a table cell: floats rounded, lists joined, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    return str(value)


def render_report_page(
    job: Mapping[str, Any],
    timeline_png: bytes | None = None,
    *,
    audio_links: Mapping[str, str] | None = None,
    json_url: str | None = None,
    audio_hint: str = "",
) -> str:
    """The report page of ``job`` (shaped as ``GET /v1/jobs/{id}`` answers): progress while it
    runs, the problem when it failed, the whole report when it succeeded. The timeline PNG
    is inlined, so the page stands alone; audio plays from ``audio_links`` (name -> URL)."""
    report = job.get("result") if job.get("status") == "succeeded" else None
    timeline_src = None
    if timeline_png:
        timeline_src = "data:image/png;base64," + base64.b64encode(timeline_png).decode()
    return (
        environment()
        .get_template("report.html")
        .render(
            job=job,
            title=source_title(job.get("source") or {}),
            report=report,
            score_rows=score_rows(report) if report else [],
            artist_columns=artist_columns(report) if report else [],
            localization=(report or {}).get("localization"),
            timeline_src=timeline_src,
            audio_links=dict(audio_links or {}),
            audio_hint=audio_hint,
            json_url=json_url,
            refresh=REFRESH_SECONDS if job.get("status") in ("queued", "running") else None,
        )
    )


def render_console() -> str:
    return environment().get_template("console.html").render(refresh=None)


def source_title(source: Mapping[str, Any]) -> str:
    """What the job analysed, as a person names it."""
    name = source.get("filename") or source.get("url") or source.get("s3_key") or "track"
    return str(name)


def score_rows(report: Mapping[str, Any]) -> list[dict[str, str | float | None]]:
    """One row per scored source: score, its threshold(s), model and whether it decides."""
    scores, thresholds = report.get("scores") or {}, report.get("thresholds") or {}
    models = report.get("models") or {}
    rows: list[dict[str, str | float | None]] = []
    for source, role in SCORE_SOURCES:
        model = models.get(role)
        if model is None and scores.get(source) is None:
            continue
        limits = [f"synthetic ≥ {format_score(thresholds.get(source))}"]
        if thresholds.get(f"{source}_authentic") is not None:
            limits.append(f"authentic ≤ {format_score(thresholds[f'{source}_authentic'])}")
        calibrated = bool((model or {}).get("calibrated_on_music"))
        rows.append(
            {
                "source": source,
                "score": scores.get(source),
                "threshold": "; ".join(limits) if thresholds.get(source) is not None else "",
                "model": (model or {}).get("name", ""),
                "decides": "yes (calibrated on real music)"
                if calibrated
                else "no: reported only (not calibrated on music)",
            }
        )
    return rows


def artist_columns(report: Mapping[str, Any]) -> list[str]:
    """Every key any artist match has, in first-seen order: the table shows them all."""
    columns: list[str] = []
    for match in report.get("artist_matches") or []:
        if isinstance(match, Mapping):
            columns += [key for key in match if key not in columns]
    return columns
