"""Shared front ends: shapes at 16 kHz and peak normalisation."""

from __future__ import annotations

import torch

from workers.networks.frontends import LFCC, SincBandpass, peak_normalise


def test_lfcc_gives_60_coefficients_every_10_ms_without_centre_padding() -> None:
    lfcc = LFCC(sample_rate=16000, n_filter=20, n_lfcc=60, n_fft=512, hop_length=160)
    out = lfcc(torch.randn(2, 64000))
    assert out.shape == (2, 60, 1 + (64000 - 512) // 160)


def test_lfcc_is_invariant_to_a_global_gain_except_for_the_zeroth_coefficient() -> None:
    """Gain shifts every band by the same dB, which only the DC term of the DCT sees."""
    lfcc = LFCC()
    x = torch.randn(1, 16000)
    difference = lfcc(4.0 * x) - lfcc(x)
    torch.testing.assert_close(
        difference[:, 1:20], torch.zeros_like(difference[:, 1:20]), atol=1e-3, rtol=0
    )


def test_sinc_bandpass_uses_an_odd_kernel_and_seventy_bands() -> None:
    sinc = SincBandpass(out_channels=70, kernel_size=128)
    assert sinc(torch.randn(1, 1000)).shape == (1, 70, 1000 - 129 + 1)


def test_peak_normalise_scales_each_window_to_unit_peak() -> None:
    batch = torch.tensor([[0.1, -0.5, 0.25], [2.0, 1.0, -1.0]])
    assert peak_normalise(batch).abs().amax(dim=1).tolist() == [1.0, 1.0]


def test_peak_normalise_leaves_silence_silent() -> None:
    assert torch.equal(peak_normalise(torch.zeros(1, 8)), torch.zeros(1, 8))
