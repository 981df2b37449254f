"""Upsampling-stack autoencoders: a latent encoder or log-mel front end, then a decoder stack.

Shared by the codec-tconv, vocoder-tconv, upsample-conv and subpixel families, which differ
only in the upsampling layer (``spec.upsampler``), the conditioning and the stride stack.
"""

from __future__ import annotations

import torch
from torch import nn

from training.zoo.layers import ConvEncoder, MelFrontend, UpsamplerStack
from training.zoo.spec import GeneratorSpec


def build_frontend(spec: GeneratorSpec, strides: tuple[int, ...]) -> tuple[nn.Module, int]:
    """The conditioning module and its channel count: a ConvEncoder or a MelFrontend."""
    if spec.conditioning == "latent":
        encoder = ConvEncoder(strides, spec.activation, spec.channels, spec.latent_dim)
        return encoder, spec.latent_dim
    return MelFrontend(spec.output_rate, spec.hop, spec.n_mels), spec.n_mels


class StackAutoencoder(nn.Module):
    """(B, n) -> (B, n) waveform at ``spec.output_rate``; ``n`` a multiple of ``spec.hop``."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        self.hop = spec.hop
        self.frontend, c_in = build_frontend(spec, spec.strides)
        self.decoder = UpsamplerStack(
            c_in, spec.strides, spec.upsampler, spec.activation, spec.channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The decoder puts frame t at t*hop + (hop-1)/2: the front end centres it there.
        cond = self.frontend(x, x.shape[-1] // self.hop, (self.hop - 1) // 2)
        return torch.tanh(self.decoder(cond)).squeeze(1)
