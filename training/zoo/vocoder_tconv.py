"""The vocoder-tconv family: log-mel conditioned HiFi-GAN and BigVGAN-like vocoders.

Transposed-conv upsampling (kernel 2s) with dilated residual blocks after each stage;
leaky ReLU (HiFi-GAN) or snake (BigVGAN). Trained to rebuild the waveform from its log-mel.
"""

from __future__ import annotations

import math

from training.zoo.spec import GeneratorSpec
from training.zoo.stack import StackAutoencoder

build = StackAutoencoder


def _vocoder(
    model: str, rate: int, strides: tuple[int, ...], act: str, n_mels: int
) -> GeneratorSpec:
    hop = math.prod(strides)
    return GeneratorSpec(
        name=f"vocoder-tconv/{model}-{rate // 1000}k-h{hop}",
        family="vocoder-tconv",
        output_rate=rate,
        hop=hop,
        upsampler="tconv",
        conditioning="mel",
        strides=strides,
        activation=act,
        n_mels=n_mels,
        channels=128,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _vocoder("hifigan-v1", 22050, (8, 8, 2, 2), "leaky", 80),
    _vocoder("hifigan", 16000, (8, 8, 2, 2), "leaky", 80),
    _vocoder("vits", 32000, (10, 8, 2, 2), "leaky", 80),  # VITS 32 kHz: hop 320
    _vocoder("bigvgan", 24000, (4, 4, 2, 2, 2, 2), "snake", 100),
    _vocoder("bigvgan", 44100, (8, 4, 2, 2, 2, 2), "snake", 128),
    _vocoder("hifigan", 48000, (8, 8, 4, 4), "leaky", 128),
)
