"""The speaker encoder: Resemblyzer's GE2E weights from its package, loaded strictly, and the
same embeddings as Resemblyzer's own code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workers.networks.ge2e import WINDOW, mel_windows
from workers.networks.registry import default_model_name, load_model
from workers.networks.weights import resolve

NAME = "resemblyzer-ge2e"


def test_the_default_speaker_encoder_is_resemblyzer_ge2e():
    assert default_model_name("speaker-encoder") == NAME


def test_its_weights_are_found_in_the_installed_package_and_verified(tmp_path):
    resolved = resolve(NAME, tmp_path)  # an empty weights folder: the package's copy is used
    assert resolved.path.parts[-2:] == ("resemblyzer", "pretrained.pt")
    assert "site-packages" in str(resolved.path)
    assert resolved.sha256 == resolved.entry.sha256


def test_windows_become_256_dimensional_unit_vectors():
    encoder = load_model("speaker-encoder", NAME)
    batch = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (3, WINDOW)).astype("f4"))
    out = encoder.encode_batch(batch)
    assert out.shape == (3, 256) and out.dtype == torch.float32
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    assert encoder.info.name == NAME and len(encoder.info.sha256) == 64


def test_windows_of_another_length_are_refused():
    encoder = load_model("speaker-encoder", NAME)
    with pytest.raises(ValueError, match="25600"):
        encoder.encode_batch(torch.zeros(1, WINDOW - 1))


def test_a_window_embeds_as_resemblyzer_embeds_it(audio_dir):
    """Our network and front end against resemblyzer.VoiceEncoder on the same 1.6 s of
    real speech brought to -30 dBFS: the same vector."""
    import warnings

    from workers.compute.audio import decode_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad imports the deprecated pkg_resources
        from resemblyzer import VoiceEncoder, wav_to_mel_spectrogram

    speech = decode_file(audio_dir / "198-209-0000.ogg", 16000, 1)[0, 16000 : 16000 + WINDOW]
    speech = speech * (10 ** (-30 / 20) / np.sqrt(np.mean(speech.astype("f8") ** 2)))
    theirs_mel = wav_to_mel_spectrogram(speech.astype("f4"))[:160]
    ours_mel = mel_windows(speech[None, :].astype("f4"))[0]
    assert np.allclose(ours_mel, theirs_mel, rtol=1e-4, atol=1e-7)
    reference = VoiceEncoder("cpu", verbose=False)
    with torch.inference_mode():
        theirs = reference(torch.from_numpy(theirs_mel[None])).numpy()[0]
    ours = (
        load_model("speaker-encoder", NAME).encode_batch(torch.from_numpy(speech[None])).numpy()[0]
    )
    assert float(ours @ theirs) > 0.9999
