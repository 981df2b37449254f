"""The subpixel family: 1-D pixel shuffle, a conv to C*s channels reshaped to s samples each.

Each output phase (sample position modulo s) has its own kernel, so the artefact is a
periodic gain and offset pattern at the stage's input rate rather than a tconv overlap.
"""

from __future__ import annotations

import math

from training.zoo.spec import GeneratorSpec
from training.zoo.stack import StackAutoencoder

build = StackAutoencoder


def _subpixel(cond: str, rate: int, strides: tuple[int, ...], n_mels: int = 0) -> GeneratorSpec:
    hop = math.prod(strides)
    return GeneratorSpec(
        name=f"subpixel/{cond}-{rate // 1000}k-h{hop}",
        family="subpixel",
        output_rate=rate,
        hop=hop,
        upsampler="subpixel",
        conditioning=cond,
        strides=strides,
        activation="leaky",
        n_mels=n_mels,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _subpixel("mel", 22050, (8, 8, 2, 2), 80),
    _subpixel("mel", 32000, (10, 8, 2, 2), 80),
    _subpixel("mel", 48000, (4, 4, 4, 4, 4), 128),
    _subpixel("latent", 16000, (4, 4, 4, 4)),
    _subpixel("latent", 24000, (8, 5, 4, 2)),
    _subpixel("latent", 44100, (8, 8, 4, 2)),
)
