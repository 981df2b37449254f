"""The timeline picture of a job: waveform, vocal activity, every score curve against its
thresholds, synthetic regions shaded, the verdict in the title; a PNG.

matplotlib draws it with its Agg canvas (no display, no pyplot state, safe in a worker).
Score axes are on a logit scale: thresholds range from the mixture detector's authentic 0.25
to the vocal detectors' 0.998-0.99999995, which a linear axis would draw on top of each other.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# Score axes span these probabilities: a vocal threshold near 1 - 5e-8 must still show.
SCORE_FLOOR, SCORE_CEILING = 1e-3, 1.0 - 1e-8
SCORE_TICKS = (0.01, 0.1, 0.5, 0.9, 0.99, 0.9999, 0.999999)
WAVEFORM_COLUMNS = 2000
REGION_COLOUR = "#d62728"
WIDTH_INCHES, DPI = 12.0, 100

VERDICT_COLOURS = {
    "likely_synthetic": "#b2182b",
    "likely_authentic": "#1a7837",
    "inconclusive": "#8c6d1f",
}


@dataclass(frozen=True)
class ScoreCurve:
    """One source's curve (one value per hop, None where unmeasured) and named thresholds."""

    source: str
    values: Sequence[float | None]
    thresholds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelinePicture:
    """What the picture shows; ``envelope`` is (min, max) per column of the mono waveform."""

    title: str
    verdict: str
    duration_seconds: float
    hop_seconds: float
    envelope: tuple[np.ndarray, np.ndarray]
    vocal_activity: Sequence[float]
    curves: Sequence[ScoreCurve]
    regions: Sequence[tuple[float, float, str]]


def waveform_envelope(
    samples: np.ndarray, columns: int = WAVEFORM_COLUMNS
) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of the mono mix (channels, n) in ``columns`` equal slices, float32 each."""
    mono = np.asarray(samples, dtype=np.float32)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    columns = max(1, min(columns, mono.size))
    usable = mono[: mono.size // columns * columns].reshape(columns, -1)
    return usable.min(axis=1), usable.max(axis=1)


def render_png(picture: TimelinePicture) -> bytes:
    """The picture as PNG bytes (1200 pixels wide)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_curves = len(picture.curves)
    ratios = [1.2, 0.6] + [1.5] * n_curves
    figure = Figure(figsize=(WIDTH_INCHES, 1.1 + 1.3 * sum(ratios)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    figure.suptitle(
        picture.title,
        color=VERDICT_COLOURS.get(picture.verdict, "black"),
        fontsize=13,
        fontweight="bold",
    )
    _draw_waveform(axes[0], picture)
    _draw_activity(axes[1], picture)
    for ax, curve in zip(axes[2:], picture.curves, strict=True):
        _draw_curve(ax, curve, picture.hop_seconds)
    for ax in axes:
        for start, end, _source in picture.regions:
            ax.axvspan(start, end, color=REGION_COLOUR, alpha=0.15, linewidth=0)
        ax.set_xlim(0.0, max(picture.duration_seconds, picture.hop_seconds))
    axes[-1].set_xlabel("time (s)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_waveform(ax, picture: TimelinePicture) -> None:  # type: ignore[no-untyped-def]
    low, high = picture.envelope
    times = np.linspace(0.0, picture.duration_seconds, num=len(low))
    ax.fill_between(times, low, high, color="#4a6fa5", linewidth=0)
    ax.set_ylabel("waveform")
    ax.set_ylim(-1.0, 1.0)
    if picture.regions:
        ax.plot([], [], color=REGION_COLOUR, alpha=0.3, linewidth=8, label="synthetic region")
        _legend(ax)


def _draw_activity(ax, picture: TimelinePicture) -> None:  # type: ignore[no-untyped-def]
    values = np.asarray(picture.vocal_activity, dtype=np.float64)
    edges = np.arange(values.size + 1) * picture.hop_seconds
    if values.size:
        ax.stairs(values, edges, fill=True, color="#7b9e3e")
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("vocals\nactive")


def _draw_curve(ax, curve: ScoreCurve, hop: float) -> None:  # type: ignore[no-untyped-def]
    values = np.array(
        [np.nan if v is None else min(max(v, SCORE_FLOOR), SCORE_CEILING) for v in curve.values],
        dtype=np.float64,
    )
    centres = (np.arange(values.size) + 0.5) * hop
    ax.set_yscale("logit")
    ax.set_ylim(SCORE_FLOOR, SCORE_CEILING)
    ax.set_yticks(SCORE_TICKS, [f"{tick:g}" for tick in SCORE_TICKS])
    ax.minorticks_off()
    ax.plot(centres, values, color="black", linewidth=1.2, label=f"{curve.source} P(synthetic)")
    styles = ("--", ":", "-.", (0, (5, 1)))
    for k, (name, value) in enumerate(curve.thresholds.items()):
        ax.axhline(
            min(max(value, SCORE_FLOOR), SCORE_CEILING),
            linestyle=styles[k % len(styles)],
            color=f"C{k}",
            linewidth=1,
            label=f"{name} {value:.7g}",
        )
    ax.set_ylabel(f"{curve.source}\nscore")
    _legend(ax)


def _legend(ax) -> None:  # type: ignore[no-untyped-def]
    """Beside the axes, so that it never hides the curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
