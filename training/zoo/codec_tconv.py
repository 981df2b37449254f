"""The codec-tconv family: Encodec, SoundStream and DAC-like autoencoders.

A strided-conv encoder mirrored by a transposed-conv decoder (kernel 2s), trained jointly;
no quantiser, since the upsampling artefact is the decoder's and not the bottleneck's.
"""

from __future__ import annotations

import math

from training.zoo.spec import GeneratorSpec
from training.zoo.stack import StackAutoencoder

build = StackAutoencoder


def _codec(model: str, rate: int, strides: tuple[int, ...], act: str) -> GeneratorSpec:
    hop = math.prod(strides)
    return GeneratorSpec(
        name=f"codec-tconv/{model}-{rate // 1000}k-h{hop}",
        family="codec-tconv",
        output_rate=rate,
        hop=hop,
        upsampler="tconv",
        conditioning="latent",
        strides=strides,
        activation=act,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _codec("encodec", 24000, (8, 5, 4, 2), "elu"),
    _codec("encodec", 48000, (8, 5, 4, 2), "elu"),
    _codec("encodec", 32000, (8, 5, 4, 4), "elu"),  # MusicGen's 32 kHz Encodec, 50 Hz frames
    _codec("soundstream", 16000, (8, 5, 4, 2), "elu"),
    _codec("dac", 44100, (8, 8, 4, 2), "snake"),
    _codec("dac", 24000, (8, 8, 4, 2), "snake"),
    _codec("dac", 16000, (8, 8, 4, 2), "snake"),
)
