"""The generator zoo: named, seeded decoders that turn real excerpts into synthetic ones.

Six families of distinct mechanisms (``FAMILIES``), each a module here with its ``SPECS``:
transposed-conv codecs and vocoders, interpolation + conv and sub-pixel stacks, iSTFT heads
and Griffin-Lim. Neural members run with a seeded random init until ``fit_generators``
trains them briefly on real excerpts; their artefacts come from the architecture either way.

Adding a configuration means one line in its family's ``SPECS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.zoo import (
    codec_tconv,
    griffin_lim,
    istft_head,
    subpixel,
    upsample_conv,
    vocoder_tconv,
)
from training.zoo.fit import (
    DEFAULT_STEPS,
    cache_path,
    excerpt_digest,
    train_autoencoder,
)
from training.zoo.generator import (
    BLEND_FRACTIONS,
    Generator,
    ModelBuilder,
    blend,
    fitted_state,
    forget_fitted,
    init_model,
    random_blend_fraction,
    remember_fitted,
    resample,
)
from training.zoo.spec import FAMILIES, SAMPLE_RATE, GeneratorSpec

__all__ = [
    "BLEND_FRACTIONS",
    "DEFAULT_STEPS",
    "FAMILIES",
    "GENERATORS",
    "Generator",
    "GeneratorSpec",
    "blend",
    "fit_generators",
    "forget_fitted",
    "generate",
    "generators_in",
    "load_generator",
    "random_blend_fraction",
]

_BUILDERS: dict[str, ModelBuilder] = {
    "codec-tconv": codec_tconv.build,
    "vocoder-tconv": vocoder_tconv.build,
    "upsample-conv": upsample_conv.build,
    "subpixel": subpixel.build,
    "istft-head": istft_head.build,
}

GENERATORS: dict[str, GeneratorSpec] = {
    spec.name: spec
    for module in (codec_tconv, vocoder_tconv, upsample_conv, subpixel, istft_head, griffin_lim)
    for spec in module.SPECS
}


def generators_in(family: str) -> tuple[str, ...]:
    """Names of the family's generators, in registry order."""
    if family not in FAMILIES:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return tuple(name for name, spec in GENERATORS.items() if spec.family == family)


def _spec(name: str) -> GeneratorSpec:
    try:
        return GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown generator {name!r}") from None


def build_model(name: str, seed: int = 0) -> nn.Module:
    """The named neural generator's model with its seeded random init (eval mode)."""
    spec = _spec(name)
    return init_model(spec, _BUILDERS[spec.family], seed)


def load_generator(name: str, seed: int = 0) -> Generator:
    """The named generator: fitted weights from ``fit_generators`` if any, else random init."""
    spec = _spec(name)
    if not spec.neural:
        return Generator(spec, seed, inverter=griffin_lim.invert)
    model = build_model(name, seed)
    state = fitted_state(name, seed)
    if state is not None:
        model.load_state_dict(state)
    return Generator(spec, seed, model=model)


def generate(name: str, audio: np.ndarray, rate: int = SAMPLE_RATE, *, seed: int = 0) -> np.ndarray:
    """The synthetic counterpart of ``audio`` (float32 (channels, n) at ``rate``) by ``name``.

    Same shape and time alignment as the input, float32, each channel's RMS matched.
    """
    return load_generator(name, seed)(audio, rate)


def fit_generators(
    names: Iterable[str],
    excerpts: list[np.ndarray],
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> None:
    """Train each named neural generator for ``steps`` Adam steps on the excerpts (CPU).

    excerpts: float32 (channels, n) at 44.1 kHz; every channel is a mono training source.
    Fitted weights are kept for ``load_generator(name, seed)`` in this process, and with a
    ``cache_dir`` saved there (keyed by name, seed, steps, excerpt sha and architecture) so
    a rerun loads them. Names without weights (griffin-lim) are skipped.
    """
    digest = excerpt_digest(excerpts) if cache_dir is not None else ""
    sources_at: dict[int, list[np.ndarray]] = {}
    for name in names:
        spec = _spec(name)
        if not spec.neural:
            continue
        path = cache_path(cache_dir, spec, seed, steps, digest) if cache_dir else None
        if path is not None and path.exists():
            remember_fitted(name, seed, torch.load(path, weights_only=True))
            continue
        if spec.output_rate not in sources_at:
            sources_at[spec.output_rate] = [
                channel
                for excerpt in excerpts
                for channel in resample(np.atleast_2d(excerpt), SAMPLE_RATE, spec.output_rate)
            ]
        model = build_model(name, seed)
        state = train_autoencoder(model, spec, sources_at[spec.output_rate], steps, seed)
        remember_fitted(name, seed, state)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(path)
