"""Artist identification: voice embeddings of vocal stems and matching against a gallery."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SPEECH
from workers.compute.identification import (
    MIN_WINDOWS,
    Gallery,
    Section,
    VoiceEmbedding,
    embed_vocals,
    match_voice,
    normalise,
    voiceprint,
)
from workers.networks.registry import load_model
from workers.networks.weights import shipped_threshold

ENCODER = "resemblyzer-ge2e"
ENROL_SECONDS = 9.0


def unit(seed: int, dim: int = 8) -> np.ndarray:
    return normalise(np.random.default_rng(seed).random(dim).astype(np.float32))


def gallery_of(*vectors: np.ndarray) -> Gallery:
    names = tuple(f"artist {i}" for i in range(len(vectors)))
    return Gallery(tuple(f"id-{i}" for i in range(len(vectors))), names, np.stack(vectors))


def voice(track: np.ndarray, *sections: tuple[float, np.ndarray]) -> VoiceEmbedding:
    parts = tuple(Section(start, start + 15.0, vector, 10) for start, vector in sections)
    return VoiceEmbedding(track, parts, 40, 30.0)


def test_the_closest_voiceprint_comes_first_and_matches_above_the_threshold():
    a, b, c = unit(1), unit(2), unit(3)
    matches = match_voice(voice(a), gallery_of(b, a, c), threshold=0.999)
    assert matches[0].artist_id == "id-1" and matches[0].name == "artist 1"
    assert matches[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert matches[0].match and not any(m.match for m in matches[1:])


def test_similarities_are_sorted_best_first_and_cut_at_top_k():
    vectors = [unit(seed) for seed in range(20)]
    matches = match_voice(voice(vectors[0]), gallery_of(*vectors), threshold=0.99, top_k=5)
    assert len(matches) == 5
    sims = [m.similarity for m in matches]
    assert sims == sorted(sims, reverse=True)


def test_a_featured_verse_is_found_by_its_section():
    lead, guest = unit(10), unit(11)
    # The track-wide voice is the lead's; one section (45-60 s) is the guest's.
    track = voice(lead, (0.0, lead), (45.0, guest))
    matches = match_voice(track, gallery_of(unit(12), guest, lead), threshold=0.999)
    by_name = {m.name: m for m in matches}
    assert by_name["artist 2"].match and by_name["artist 2"].similarity == pytest.approx(1.0, 1e-5)
    featured = by_name["artist 1"]
    assert featured.match and featured.similarity < 0.999
    assert [(s[0], s[1]) for s in featured.sections] == [(45.0, 60.0)]
    assert not by_name["artist 0"].match


def test_no_vocals_or_an_empty_gallery_give_no_matches():
    assert match_voice(VoiceEmbedding(None, (), 0, 0.0), gallery_of(unit(1)), 0.5) == []
    empty = Gallery((), (), np.zeros((0, 8), np.float32))
    assert match_voice(voice(unit(1)), empty, 0.5) == []


def test_a_voiceprint_is_the_normalised_mean_of_its_embeddings():
    a, b = unit(1), unit(2)
    print_ = voiceprint([a, b])
    assert np.linalg.norm(print_) == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(print_, normalise(a + b), atol=1e-6)


def test_matches_survive_their_json_round_trip():
    (match,) = match_voice(voice(unit(1), (0.0, unit(1))), gallery_of(unit(1)), 0.9)
    assert type(match).from_json(match.to_json()).to_json() == match.to_json()


class SilentActivity:
    def fraction_active(self, start_s: float, end_s: float) -> float:
        return 0.0


def test_a_stem_without_vocal_activity_has_no_voice():
    encoder = load_model("speaker-encoder", ENCODER)
    noise = np.random.default_rng(0).normal(0, 0.1, (2, 44100 * 5)).astype(np.float32)
    embedded = embed_vocals(noise, 44100, encoder, SilentActivity())
    assert embedded.track is None and embedded.windows == 0 and embedded.vocal_seconds == 0.0


def test_a_few_windows_of_voice_are_too_little_for_a_track_embedding():
    encoder = load_model("speaker-encoder", ENCODER)
    short = np.random.default_rng(0).normal(0, 0.1, 16000 * 2).astype(np.float32)
    embedded = embed_vocals(short, 16000, encoder)
    assert 0 < embedded.windows < MIN_WINDOWS and embedded.track is None


# The acceptance test, through the service's own path (decode, separate, embed):
# each LibriSpeech reader enrolled from the start of its recording, identified from the rest.


def embed_excerpt(path: Path, start: float, end: float | None) -> VoiceEmbedding:
    from workers.compute.canonical import CANONICAL_RATE, ingest_file
    from workers.compute.separation import separate
    from workers.networks.separators import load_separator

    track = ingest_file(path, 1200.0)
    last = None if end is None else int(end * CANONICAL_RATE)
    separator, warnings = load_separator("repet-sim", None)
    mix = track.canonical[:, int(start * CANONICAL_RATE) : last]
    parts = separate(mix, CANONICAL_RATE, separator, warnings)
    encoder = load_model("speaker-encoder", ENCODER)
    return embed_vocals(parts.vocals, parts.sample_rate, encoder, parts.activity)


@pytest.fixture(scope="module")
def readers_gallery() -> Gallery:
    from tests.conftest import AUDIO_DIR

    prints = []
    for name in SPEECH:
        enrolled = embed_excerpt(AUDIO_DIR / name, 0.0, ENROL_SECONDS)
        assert enrolled.track is not None
        prints.append(enrolled.track)
    return Gallery(tuple(SPEECH), tuple(SPEECH), np.stack(prints))


@pytest.mark.slow
@pytest.mark.parametrize("reader", SPEECH)
def test_an_enrolled_reader_is_identified_from_the_held_back_part(
    reader, readers_gallery, audio_dir
):
    held_back = embed_excerpt(audio_dir / reader, ENROL_SECONDS, None)
    matches = match_voice(held_back, readers_gallery, shipped_threshold(ENCODER))
    assert matches[0].artist_id == reader
    assert matches[0].match
    assert not any(m.match for m in matches[1:])


@pytest.mark.slow
def test_a_reader_left_out_of_the_gallery_has_no_match(readers_gallery, audio_dir):
    others = Gallery(readers_gallery.ids[1:], readers_gallery.names[1:], readers_gallery.matrix[1:])
    held_back = embed_excerpt(audio_dir / SPEECH[0], ENROL_SECONDS, None)
    matches = match_voice(held_back, others, shipped_threshold(ENCODER))
    assert len(matches) == 2 and not any(m.match for m in matches)


@pytest.mark.slow
@pytest.mark.parametrize("voice_name", ["en+m3", "en+f2"])
def test_an_espeak_voice_never_enrolled_has_no_match(voice_name, readers_gallery, tmp_path):
    text = "Nobody enrolled this voice, so the gallery must not claim to know who is speaking."
    wav = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", voice_name, "-w", str(wav), text], check=True)
    matches = match_voice(
        embed_excerpt(wav, 0.0, None), readers_gallery, shipped_threshold(ENCODER)
    )
    assert matches and not any(m.match for m in matches)
