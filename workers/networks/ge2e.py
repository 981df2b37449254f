"""GE2E speaker encoder (role "speaker-encoder"): Resemblyzer's pretrained voice encoder,
whose weights ship inside the resemblyzer package (resemblyzer/pretrained.pt).

The network and its front end are written out here (a 3-layer LSTM over 40 mel bands of
1.6 s windows, a linear layer, ReLU, L2 norm), as in resemblyzer.voice_encoder, so that the
weights load with ``strict=True``: Resemblyzer itself loads them loosely because the file
also holds GE2E's loss scale and bias. tests/workers/networks/test_ge2e.py checks that this
module and Resemblyzer's own ``embed_utterance`` agree on real speech.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workers.networks.device import resolve_device
from workers.networks.registry import ModelSpec
from workers.networks.roles import ModelInfo
from workers.networks.weights import ResolvedWeights

SAMPLE_RATE = 16000
MEL_BANDS = 40
MEL_FFT = 400  # 25 ms
MEL_HOP = 160  # 10 ms
FRAMES = 160  # a "partial utterance" of 1.6 s, the length GE2E was trained on
WINDOW = FRAMES * MEL_HOP
EMBEDDING_DIM = 256
# Resemblyzer brings every utterance up to -30 dBFS RMS before its (linear, not log) mel
# spectrogram; each window is set to that level here, so a quiet verse counts like a loud one.
TARGET_DBFS = -30.0
SILENCE_RMS = 1e-5


class GE2ENetwork(nn.Module):
    """(B, FRAMES, MEL_BANDS) mel power -> (B, EMBEDDING_DIM) L2-normed, non-negative."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_DIM)
        self.relu = nn.ReLU()
        # GE2E's loss scale and bias, trained with the network and stored in its checkpoint;
        # unused at inference, declared so that loading is strict.
        self.similarity_weight = nn.Parameter(torch.tensor([10.0]))
        self.similarity_bias = nn.Parameter(torch.tensor([-5.0]))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        unit: torch.Tensor = raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)
        return unit


def mel_windows(batch: np.ndarray) -> np.ndarray:
    """(B, WINDOW) float32 mono at 16 kHz -> (B, FRAMES, MEL_BANDS) float32 mel power, each
    window first brought to TARGET_DBFS (Resemblyzer's wav_to_mel_spectrogram, batched)."""
    import librosa

    rms = np.sqrt(np.mean(np.square(batch, dtype=np.float64), axis=1, keepdims=True))
    gain = np.where(rms > SILENCE_RMS, 10 ** (TARGET_DBFS / 20) / np.maximum(rms, 1e-12), 1.0)
    mel = librosa.feature.melspectrogram(
        y=(batch * gain).astype(np.float32),
        sr=SAMPLE_RATE,
        n_fft=MEL_FFT,
        hop_length=MEL_HOP,
        n_mels=MEL_BANDS,
    )
    return np.ascontiguousarray(mel[:, :, :FRAMES].transpose(0, 2, 1), dtype=np.float32)


class GE2EEncoder:
    """The SpeakerEncoder of workers.networks.roles: one voice embedding per 1.6 s window."""

    sample_rate = SAMPLE_RATE
    window = WINDOW
    dim = EMBEDDING_DIM

    def __init__(self, name: str, network: GE2ENetwork, info: ModelInfo, device: torch.device):
        self.name, self.info, self.device = name, info, device
        self.network = network

    def encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, WINDOW) float32 mono at 16 kHz -> (B, 256) float32 unit vectors on the CPU."""
        if batch.dim() != 2 or batch.size(1) != self.window:
            raise ValueError(
                f"{self.name} embeds (B, {self.window}) windows, got {tuple(batch.shape)}"
            )
        mels = torch.from_numpy(mel_windows(batch.detach().cpu().numpy()))
        with torch.inference_mode():
            out: torch.Tensor = self.network(mels.to(self.device)).float().cpu()
        return out


def load_ge2e(spec: ModelSpec, weights: ResolvedWeights | None, device: str) -> GE2EEncoder:
    """The registry's loader: the network, strictly loaded, in eval mode on ``device``."""
    assert weights is not None
    checkpoint = torch.load(weights.path, map_location="cpu", weights_only=True)
    network = GE2ENetwork()
    network.load_state_dict(checkpoint["model_state"], strict=True)
    target = resolve_device(device)
    network.to(target).eval()
    return GE2EEncoder(spec.name, network, ModelInfo(spec.name, weights.sha256), target)
