"""The verdict policy: only a detector calibrated on real music decides, in three bands
between its synthetic and authentic thresholds, and one sentence says why.

``likely_authentic`` is a claim about every path: a track with vocals gets it only when the
vocals too were judged by a detector calibrated on real singing. Until one is, the full mix
alone can make a track ``likely_synthetic``, but a sung track it finds authentic stays
``inconclusive`` (a cloned voice over a real backing track sounds like a real mix)."""

from __future__ import annotations

from workers.compute.report import INCONCLUSIVE, LIKELY_AUTHENTIC, LIKELY_SYNTHETIC
from workers.networks.roles import MusicThresholds


def decide_verdict(
    score: float | None,
    thresholds: MusicThresholds | None,
    *,
    vocals_present: bool = False,
    vocals_judged: bool = False,
) -> str:
    """The verdict from the score of a detector calibrated on real music; inconclusive when
    there is none (no such detector, or nothing scored), and instead of likely_authentic
    when ``vocals_present`` but not ``vocals_judged`` by a detector calibrated on singing."""
    if score is None or thresholds is None:
        return INCONCLUSIVE
    if score >= thresholds.synthetic:
        return LIKELY_SYNTHETIC
    if score <= thresholds.authentic:
        return LIKELY_AUTHENTIC if vocals_judged or not vocals_present else INCONCLUSIVE
    return INCONCLUSIVE


def explain_withheld(vocals_present: bool, vocals_judged: bool) -> str | None:
    """The reason likely_authentic was withheld for missing vocal evidence, else None."""
    if vocals_present and not vocals_judged:
        return (
            "the track has vocals and no detector calibrated on real singing judged them: "
            "likely_authentic needs both the mix and the vocals, so the verdict stays inconclusive"
        )
    return None


def explain_verdict(name: str, score: float | None, thresholds: MusicThresholds | None) -> str:
    """One sentence naming the detector and the score that decided the verdict."""
    if thresholds is None:
        return "no detector calibrated on real music ran: the verdict stays inconclusive"
    if score is None:
        return f"mixture detector {name} scored nothing: the verdict stays inconclusive"
    t_syn, t_auth = thresholds.synthetic, thresholds.authentic
    if score >= t_syn:
        return (
            f"mixture detector {name} {score:.4f} >= threshold {t_syn:.4f} "
            "(calibrated on real music)"
        )
    if score <= t_auth:
        return (
            f"mixture detector {name} {score:.4f} <= authentic threshold {t_auth:.4f} "
            "(calibrated on real music)"
        )
    return (
        f"mixture detector {name} {score:.4f} lies between the authentic threshold {t_auth:.4f} "
        f"and the synthetic threshold {t_syn:.4f}"
    )
