"""What a generator is: its family, output rate, hop and architecture, as one frozen record."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

# The canonical rate of the project: generators take and return audio at this rate.
SAMPLE_RATE = 44100

FAMILIES: tuple[str, ...] = (
    "codec-tconv",
    "vocoder-tconv",
    "upsample-conv",
    "subpixel",
    "istft-head",
    "griffin-lim",
)
# Families without trainable weights: the artefact comes from the algorithm alone.
ALGORITHMIC_FAMILIES = frozenset({"griffin-lim"})


@dataclass(frozen=True)
class GeneratorSpec:
    """One configuration of the zoo.

    ``hop``: samples of ``output_rate`` per frame of the decoder's conditioning (the product
    of ``strides`` for upsampling stacks, the STFT hop for iSTFT heads and Griffin-Lim).
    ``upsampler``: "tconv", "nearest", "linear" or "subpixel" (upsampling stacks),
    "istft" (Vocos and iSTFTNet heads) or "griffin-lim".
    ``conditioning``: "latent" (a strided-conv encoder trained with the decoder), "mel"
    (log-mel frames) or "stft" / "mel" magnitudes for Griffin-Lim.
    ``n_fft``: the iSTFT size of an iSTFT head, or the STFT size of Griffin-Lim.
    ``channels``: width of the decoder's first (coarsest) layer.
    """

    name: str
    family: str
    output_rate: int
    hop: int
    upsampler: str
    conditioning: str
    strides: tuple[int, ...] = ()
    activation: str = "leaky"
    n_fft: int = 0
    n_mels: int = 0
    n_iter: int = 0
    channels: int = 64
    latent_dim: int = 32

    @property
    def neural(self) -> bool:
        """Whether the generator has weights (random-init or fitted)."""
        return self.family not in ALGORITHMIC_FAMILIES

    def digest(self) -> str:
        """A short hash of every field: a cached fit is valid only for the same architecture."""
        return hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:12]


def derived_seed(name: str, seed: int) -> int:
    """A stable 63-bit seed per (generator, seed), so two generators never share an init."""
    digest = hashlib.sha256(f"{name}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
