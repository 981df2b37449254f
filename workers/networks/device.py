"""Turn the SOUNDSCAPE_DEVICE setting (cpu, cuda, cuda:N, auto) into a torch.device."""

from __future__ import annotations

import torch


def resolve_device(setting: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA on a machine without it is an error."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"SOUNDSCAPE_DEVICE={setting} but no CUDA device is available")
    return device
