"""The upsample-conv family: nearest or linear interpolation followed by a convolution.

The resize-then-convolve alternative to transposed convolutions (Odena et al., 2016); its
spectral images are shaped by the interpolation kernel instead of the learnt one.
"""

from __future__ import annotations

import math

from training.zoo.spec import GeneratorSpec
from training.zoo.stack import StackAutoencoder

build = StackAutoencoder


def _upconv(
    mode: str, cond: str, rate: int, strides: tuple[int, ...], n_mels: int = 0
) -> GeneratorSpec:
    hop = math.prod(strides)
    return GeneratorSpec(
        name=f"upsample-conv/{mode}-{cond}-{rate // 1000}k-h{hop}",
        family="upsample-conv",
        output_rate=rate,
        hop=hop,
        upsampler=mode,
        conditioning=cond,
        strides=strides,
        activation="leaky",
        n_mels=n_mels,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _upconv("nearest", "mel", 22050, (8, 8, 2, 2), 80),
    _upconv("linear", "mel", 24000, (4, 4, 2, 2, 2, 2), 100),
    _upconv("nearest", "mel", 48000, (8, 8, 4, 4), 128),
    _upconv("nearest", "latent", 16000, (8, 5, 4, 2)),
    _upconv("nearest", "latent", 32000, (8, 5, 4, 4)),
    _upconv("linear", "latent", 44100, (8, 8, 4, 2)),
)
