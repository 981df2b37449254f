"""Choosing a separator: the configured one, or its weight-free fallback when its weights
are absent (never a network with random weights)."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from app.errors import WeightsMissingError
from workers.networks.registry import SeparatorSpec, get_spec, load_model
from workers.networks.roles import Separator
from workers.networks.weights import WeightsDownloadError

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def load_separator(
    name: str, weights_dir: Path | None, device: str = "cpu", allow_download: bool = False
) -> tuple[Separator, tuple[str, ...]]:
    """The separator ``name`` and the warnings to attach to its results; cached per process.

    A file still missing (download off or failed) falls back to the spec's ``fallback``
    (repet-sim for htdemucs) with a warning that says why. A file present but failing
    verification raises WeightsChecksumError: a damaged install must be fixed, not papered
    over. An unknown name raises ValueError.
    """
    spec = get_spec("separator", name)
    try:
        return load_model("separator", name, weights_dir, device, allow_download), ()
    except WeightsMissingError as exc:
        fallback = spec.fallback if isinstance(spec, SeparatorSpec) else None
        if fallback is None:
            raise
        warning = _fallback_warning(name, fallback, exc)
        log.warning("%s (%s)", warning, exc.detail)
        return load_model("separator", fallback, weights_dir, device, allow_download), (warning,)


def _fallback_warning(name: str, fallback: str, exc: WeightsMissingError) -> str:
    if isinstance(exc, WeightsDownloadError):
        return (
            f"{name} weights not installed and the download failed ({exc.detail}): "
            f"used {fallback}, quality is lower"
        )
    return f"{name} weights not installed: used {fallback}, quality is lower"
