"""``soundscape analyze PATH [--json]``: the whole pipeline on one file, no servers needed."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="an audio file (mp3, wav, flac, ogg, opus, m4a)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly the report object on stdout, nothing else",
    )
    parser.add_argument(
        "--out", type=Path, help="copy the artifacts (canonical audio, stems, timeline PNG) here"
    )
    parser.add_argument(
        "--vocal-detector",
        action="store_true",
        help="also score the vocals with the speech-trained vocal detector (reported, not used "
        "for the verdict; off by default, SOUNDSCAPE_RUN_VOCAL_DETECTOR=1 turns it on)",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report page (what GET /v1/jobs/{id}/report shows) to FILE; "
        "with --out its audio players play the copied stems",
    )


def run(args: argparse.Namespace) -> int:
    import logging

    from app.config import load_settings
    from app.joboptions import JobOptions, deployment_options
    from workers.inline import analyze_file, local_gallery

    if not args.path.is_file():
        raise FileNotFoundError(f"no such file: {args.path}")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The job runs in scratch space; artists are matched against the local tenant's gallery
    # of the configured database (`soundscape artists import` fills it).
    gallery = local_gallery(load_settings())
    with tempfile.TemporaryDirectory(prefix="soundscape-analyze-") as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url="", broker_url="", storage_url="")
        out = args.out or (Path(tmp) / "export" if args.html else None)
        options = deployment_options(settings)
        if args.vocal_detector:
            options = JobOptions(vocal_detector=True)
        report = analyze_file(args.path, settings, out, gallery, options)
        if args.html:
            write_html(args.html, args.path, report, keep_links=args.out is not None)
        if args.out is None:
            report["artifacts"] = {}
    print(json.dumps(report, indent=2) if args.json else summarize(args.path, report))
    return 0


def write_html(target: Path, source: Path, report: dict[str, Any], keep_links: bool) -> None:
    """The report page of an inline analysis; audio links are relative to ``target``."""
    import os
    from urllib.request import pathname2url

    from app.api.reportpage import render_report_page

    artifacts = report.get("artifacts", {})
    picture = Path(artifacts["timeline"]).read_bytes() if "timeline" in artifacts else None
    links = {}
    if keep_links:
        base = target.resolve().parent
        links = {n: pathname2url(os.path.relpath(p, base)) for n, p in artifacts.items()}
    job = {"id": None, "status": "succeeded", "source": {"filename": source.name}, "result": report}
    hint = "" if keep_links else "run analyze with --out DIR to keep the audio beside the page"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report_page(job, picture, audio_links=links, audio_hint=hint))


def summarize(path: Path, report: dict[str, Any]) -> str:
    """A short human reading of the report."""
    audio, scores, thresholds = report["audio"], report["scores"], report["thresholds"]
    lines = [
        f"{path.name}: {report.get('summary') or report['verdict'].replace('_', ' ')}",
        f"  audio     {audio['duration_seconds']:.1f} s, {audio['format']}/{audio['codec']}, "
        f"{audio['sample_rate']} Hz, {audio['channels']} ch, "
        f"{audio['loudness_lufs']} LUFS, sha256 {audio['sha256'][:12]}",
    ]
    for name in ("vocals", "mixture", "overall"):
        if scores.get(name) is None:
            lines.append(f"  {name:<9} not scored")
            continue
        limit = thresholds.get(name)
        lines.append(
            f"  {name:<9} P(synthetic) {scores[name]:.6f}"
            + (f"  threshold {limit:.6f}" if limit is not None else "")
        )
    lines += [f"  why       {reason}" for reason in report.get("reasons", [])]
    lines += _artist_lines(report)
    for role, model in report["models"].items():
        domain = f", trained on {model['domain']}" if model.get("domain") else ""
        lines.append(
            f"  model     {role}: {model['name']} "
            f"({(model['sha256'] or 'weight-free')[:12]}{domain})"
        )
    lines += [f"  artifact  {name}: {where}" for name, where in report["artifacts"].items()]
    lines += [f"  warning   {warning}" for warning in report.get("warnings", [])]
    return "\n".join(lines)


def _artist_lines(report: dict[str, Any]) -> list[str]:
    """The artist matches, or why there are none."""
    matches = report.get("artist_matches") or []
    if not matches:
        reason = (report.get("identification") or {}).get("reason") or "no artist is close"
        return [f"  artists   none: {reason}"]
    lines = []
    for match in matches:
        sections = ", ".join(f"{s['start']:g}-{s['end']:g} s" for s in match["sections"])
        lines.append(
            f"  artist    {match['name']}: similarity {match['similarity']:.3f}"
            + (" (match" + (f" in {sections})" if sections else ")") if match["match"] else "")
        )
    return lines
