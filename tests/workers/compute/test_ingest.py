"""Ingest: real recordings, every supported container, and broken files of each kind."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.errors import (
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    TooLongError,
    TooShortError,
    UnsupportedFormatError,
)
from tests.conftest import SPEECH, make_tone_file
from workers.compute.audio import decode_file, read_interleaved
from workers.compute.canonical import (
    CANONICAL_RATE,
    MAX_DAMAGED_SHARE,
    ingest_file,
    integrated_loudness,
    write_flac,
)

FORMATS = {
    ".wav": "wav",
    ".mp3": "mp3",
    ".flac": "flac",
    ".ogg": "ogg",
    ".opus": "opus",
    ".m4a": "m4a",
}


def speech_file(audio_dir: Path, tmp_path: Path, suffix: str, seconds: float = 5.0) -> Path:
    """Real LibriSpeech speech re-encoded by ffmpeg into the container ``suffix`` names."""
    target = tmp_path / f"speech{suffix}"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(audio_dir / SPEECH[0]),
            "-t",
            str(seconds),
            str(target),
        ],
        check=True,
    )
    return target


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name for p in Path(__file__).parents[3].parent.joinpath("shared", "audio").glob("*.ogg")
    ),
)
def test_every_shared_recording_ingests(audio_dir, name):
    track = ingest_file(audio_dir / name, max_duration=600)
    assert track.canonical.dtype == np.float32
    assert track.canonical.shape[0] == 2
    assert track.info.duration_seconds == pytest.approx(
        track.canonical.shape[1] / CANONICAL_RATE, abs=1e-3
    )
    assert track.info.loudness_lufs is not None and -70 < track.info.loudness_lufs < 0
    assert len(track.info.sha256) == 64


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_each_container_decodes_to_the_same_duration(audio_dir, tmp_path, ffmpeg, suffix):
    track = ingest_file(speech_file(audio_dir, tmp_path, suffix), max_duration=600)
    assert track.info.format == FORMATS[suffix]
    assert track.info.duration_seconds == pytest.approx(5.0, abs=0.06)
    assert track.info.sample_rate == (48000 if suffix == ".opus" else 16000)


def test_source_facts_are_the_sources_own(tmp_path, ffmpeg):
    track = ingest_file(
        make_tone_file(tmp_path / "tone.wav", seconds=2.0, sample_rate=22050), max_duration=600
    )
    assert (track.info.sample_rate, track.info.channels) == (22050, 2)
    assert track.canonical.shape == (2, 2 * CANONICAL_RATE)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_a_truncated_file_is_corrupt(audio_dir, tmp_path, ffmpeg, suffix):
    whole = speech_file(audio_dir, tmp_path, suffix).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(CorruptAudioError):
        ingest_file(cut, max_duration=600)


def test_a_wav_written_to_a_pipe_decodes_whole(audio_dir, tmp_path, ffmpeg):
    # `ffmpeg -f wav -` cannot seek back: RIFF and data sizes stay 0xFFFFFFFF.
    piped = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(audio_dir / SPEECH[0])]
        + ["-t", "4.321", "-f", "wav", "-"],
        check=True,
        capture_output=True,
    ).stdout
    assert piped[4:8] == b"\xff\xff\xff\xff"
    path = tmp_path / "piped.wav"
    path.write_bytes(piped)
    track = ingest_file(path, max_duration=600)
    assert track.info.duration_seconds == pytest.approx(4.321, abs=0.01)
    assert track.info.format == "wav"


@pytest.mark.parametrize("suffix", sorted(set(FORMATS) - {".wav"}))
def test_a_file_with_garbled_data_is_corrupt(audio_dir, tmp_path, ffmpeg, suffix):
    # PCM WAV has no integrity check (any bytes are samples), so it is not in this list.
    data = bytearray(speech_file(audio_dir, tmp_path, suffix).read_bytes())
    rng = np.random.default_rng(0)
    for i in range(300, len(data), 97):
        data[i] = int(rng.integers(256))
    bad = tmp_path / f"garbled{suffix}"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptAudioError):
        ingest_file(bad, max_duration=600)


def _ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection, zero init)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        crc &= 0xFFFFFFFF
    return crc


def spoil_ogg_pages(path: Path, target: Path, every: int, start: float) -> int:
    """Garble the first 40 bytes of every ``every``-th Ogg page from the one ``start`` of the
    way into the file (0.5: the middle), and
    give each its right checksum again: the container is intact, the packet is not (what
    a bad copy or a bit flip in an archive does). Returns how many pages were spoiled."""
    data = bytearray(path.read_bytes())
    pages, at = [], 0
    while (at := data.find(b"OggS", at)) >= 0:
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27 : at + 27 + segments])
        pages.append((at, segments, size))
        at += size
    spoiled = pages[int(start * len(pages)) :: every]
    for at, segments, size in spoiled:
        body = at + 27 + segments
        data[body : body + 40] = bytes((b * 7 + 13) & 0xFF for b in data[body : body + 40])
        data[at + 22 : at + 26] = bytes(4)
        data[at + 22 : at + 26] = _ogg_crc(bytes(data[at : at + size])).to_bytes(4, "little")
    target.write_bytes(bytes(data))
    return len(spoiled)


def test_an_ogg_with_one_undecodable_packet_is_analysed_with_a_warning(audio_dir, tmp_path, ffmpeg):
    whole = speech_file(audio_dir, tmp_path, ".ogg", seconds=12.0)
    damaged = tmp_path / "damaged.ogg"
    assert spoil_ogg_pages(whole, damaged, every=1000, start=0.5) == 1
    with pytest.raises(CorruptAudioError):
        decode_file(damaged, CANONICAL_RATE, 2)  # strict decoding refuses it
    track = ingest_file(damaged, max_duration=600)
    assert track.info.duration_seconds == pytest.approx(12.0, abs=0.1)
    (warning,) = track.warnings
    assert "undecodable packets" in warning and "were skipped" in warning
    assert ingest_file(whole, max_duration=600).warnings == ()


def test_an_ogg_with_more_bad_packets_than_the_documented_share_is_corrupt(
    audio_dir, tmp_path, ffmpeg
):
    whole = speech_file(audio_dir, tmp_path, ".ogg", seconds=12.0)
    damaged = tmp_path / "damaged.ogg"
    assert spoil_ogg_pages(whole, damaged, every=2, start=0.3) > 3
    with pytest.raises(CorruptAudioError, match=f"more than the {MAX_DAMAGED_SHARE:.0%}"):
        ingest_file(damaged, max_duration=600)


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        ingest_file(tmp_path / "empty.mp3", max_duration=600)


def test_text_named_like_audio_is_not_audio(tmp_path):
    (tmp_path / "song.mp3").write_text("this is not a song\n" * 100)
    with pytest.raises(NotAudioError):
        ingest_file(tmp_path / "song.mp3", max_duration=600)


def test_midi_is_unsupported(tmp_path):
    (tmp_path / "tune.mid").write_bytes(
        b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60" + b"\0" * 64
    )
    with pytest.raises(UnsupportedFormatError):
        ingest_file(tmp_path / "tune.mid", max_duration=600)


def test_digital_silence_is_refused(tmp_path):
    path = write_flac(
        np.zeros((2, CANONICAL_RATE * 3), dtype=np.float32),
        CANONICAL_RATE,
        tmp_path / "silence.flac",
    )
    with pytest.raises(SilentAudioError):
        ingest_file(path, max_duration=600)


def test_audio_over_the_duration_limit_is_refused(tmp_path, ffmpeg):
    with pytest.raises(TooLongError, match="limit is 2 s"):
        ingest_file(make_tone_file(tmp_path / "long.flac", seconds=4.0), max_duration=2.0)


def test_audio_under_the_minimum_is_refused(tmp_path, ffmpeg):
    with pytest.raises(TooShortError):
        ingest_file(make_tone_file(tmp_path / "blip.wav", seconds=0.2), max_duration=60)


def test_canonical_flac_round_trips(tmp_path, audio_dir):
    track = ingest_file(audio_dir / SPEECH[1], max_duration=600)
    path = write_flac(track.canonical, CANONICAL_RATE, tmp_path / "c.flac")
    back, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == CANONICAL_RATE and back.shape == track.canonical.T.shape
    assert np.max(np.abs(back.T - track.canonical)) < 1e-4


def test_flac_written_in_blocks_equals_one_whole_write(tmp_path, audio_dir):
    track = ingest_file(audio_dir / SPEECH[1], max_duration=600)
    blocks = write_flac(track.canonical, CANONICAL_RATE, tmp_path / "b.flac", block_frames=999)
    sf.write(tmp_path / "w.flac", track.canonical.T, CANONICAL_RATE, subtype="PCM_24")
    assert np.array_equal(sf.read(blocks)[0], sf.read(tmp_path / "w.flac")[0])


def test_decoding_keeps_each_channel_in_its_row(tmp_path, ffmpeg):
    t = np.arange(CANONICAL_RATE) / CANONICAL_RATE
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)]).astype(np.float32)
    samples = decode_file(
        write_flac(stereo, CANONICAL_RATE, tmp_path / "left.flac"), CANONICAL_RATE, 2
    )
    assert samples.dtype == np.float32 and samples.flags.c_contiguous
    assert samples.shape == stereo.shape
    assert np.max(np.abs(samples - stereo)) < 1e-4


def test_raw_samples_are_deinterleaved_across_read_blocks(tmp_path):
    frames = np.arange(3 * 1001, dtype="<f4").reshape(1001, 3)
    raw = tmp_path / "raw.f32"
    raw.write_bytes(frames.tobytes() + b"\0\0")  # a trailing partial sample is dropped
    samples = read_interleaved(raw, 3, block_frames=64)
    assert samples.flags.c_contiguous
    assert np.array_equal(samples, frames.T)


@pytest.mark.parametrize(
    "name", [SPEECH[0], "Kevin_MacLeod_-_Vibe_Ace.ogg", "glacier-bay-humpback.ogg"]
)
def test_loudness_agrees_with_pyloudnorm_on_real_recordings(audio_dir, name):
    import pyloudnorm

    samples = decode_file(audio_dir / name, CANONICAL_RATE, 2)
    expected = pyloudnorm.Meter(CANONICAL_RATE).integrated_loudness(samples.T.astype(np.float64))
    assert integrated_loudness(samples, CANONICAL_RATE) == pytest.approx(expected, abs=0.01)


def test_loudness_of_silence_or_a_blip_is_none():
    assert integrated_loudness(np.zeros((2, CANONICAL_RATE), np.float32), CANONICAL_RATE) is None
    blip = np.full((2, CANONICAL_RATE // 4), 0.5, np.float32)
    assert integrated_loudness(blip, CANONICAL_RATE) is None


def test_read_mono_averages_the_channels_block_by_block(tmp_path, audio_dir):
    from workers.compute.audio import read_mono

    track = ingest_file(audio_dir / SPEECH[1], max_duration=600)
    path = write_flac(track.canonical, CANONICAL_RATE, tmp_path / "c.flac")
    stereo, _ = sf.read(path, dtype="float32", always_2d=True)
    mono, rate = read_mono(path, block_frames=1001)
    assert rate == CANONICAL_RATE and mono.dtype == np.float32
    np.testing.assert_array_equal(mono, stereo.mean(axis=1))
