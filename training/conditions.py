"""Codec and band-limiting conditions applied alike to real and synthetic excerpts.

Real music reaches us as MP3, AAC, Opus or Vorbis at many bitrates, and old recordings can be
band-limited, often before a lossy encoder (a 22.05 kHz master sold as MP3, a field recording
shared as Vorbis). If only one class went through a codec, the detector would learn the codec. So
every excerpt, real or fake, passes through a condition drawn from one registry, and each
condition returns audio time-aligned with its input: encoder delay and padding are removed by
ffmpeg's gapless handling (LAME tag, MP4 edit list, Ogg pre-skip), then the result is trimmed or
zero-padded to the input length.

All conditions run through the ffmpeg command-line tool; resampling uses soxr.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 44100
"""Sample rate of every input and output, in Hz."""

OPUS_RATE = 48000  # libopus accepts no 44.1 kHz input


def _soxr(rate: int) -> str:
    """An ffmpeg filter resampling to `rate` with soxr at its highest precision."""
    return f"aresample={rate}:resampler=soxr:precision=28"


@dataclass(frozen=True)
class Condition:
    """One way of degrading audio. `encoder` is None for conditions that encode nothing; with
    both `band_rate` and `encoder`, the audio is band-limited first, then encoded."""

    name: str
    encoder: str | None
    encode_args: tuple[str, ...] = ()
    suffix: str = ""
    band_rate: int | None = None


REGISTRY: tuple[Condition, ...] = (
    Condition("pcm", None),
    Condition("mp3-96", "libmp3lame", ("-b:a", "96k"), ".mp3"),
    Condition("mp3-128", "libmp3lame", ("-b:a", "128k"), ".mp3"),
    Condition("mp3-192", "libmp3lame", ("-b:a", "192k"), ".mp3"),
    Condition("mp3-320", "libmp3lame", ("-b:a", "320k"), ".mp3"),
    Condition("aac-96", "aac", ("-b:a", "96k"), ".m4a"),
    Condition("aac-160", "aac", ("-b:a", "160k"), ".m4a"),
    Condition("opus-48", "libopus", ("-b:a", "48k", "-af", _soxr(OPUS_RATE)), ".opus"),
    Condition("opus-96", "libopus", ("-b:a", "96k", "-af", _soxr(OPUS_RATE)), ".opus"),
    Condition("vorbis-q2", "libvorbis", ("-q:a", "2"), ".ogg"),
    Condition("vorbis-q6", "libvorbis", ("-q:a", "6"), ".ogg"),
    Condition("rate-16000", None, band_rate=16000),
    Condition("rate-22050", None, band_rate=22050),
    Condition("rate-32000", None, band_rate=32000),
    Condition("rate-16000+mp3-128", "libmp3lame", ("-b:a", "128k"), ".mp3", 16000),
    Condition("rate-22050+mp3-96", "libmp3lame", ("-b:a", "96k"), ".mp3", 22050),
    Condition("rate-22050+vorbis-q2", "libvorbis", ("-q:a", "2"), ".ogg", 22050),
    Condition("rate-32000+aac-96", "aac", ("-b:a", "96k"), ".m4a", 32000),
)
"""Every condition, in a fixed order; `available_conditions` drops those ffmpeg here lacks."""

CONDITIONS: tuple[str, ...] = tuple(condition.name for condition in REGISTRY)
_BY_NAME = {condition.name: condition for condition in REGISTRY}


class CodecError(Exception):
    """A condition could not be applied."""


class UnknownConditionError(CodecError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown codec condition {name!r}; known: {', '.join(CONDITIONS)}")


class ConditionUnavailableError(CodecError):
    def __init__(self, name: str, encoder: str) -> None:
        super().__init__(f"codec condition {name!r} needs ffmpeg encoder {encoder!r}, absent here")


class FfmpegError(CodecError):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"ffmpeg failed for codec condition {name!r}: {detail}")


@functools.cache
def ffmpeg_encoders() -> frozenset[str]:
    """Names of the audio encoders this machine's ffmpeg offers."""
    if shutil.which("ffmpeg") is None:
        return frozenset()
    listing = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    # Lines look like " A....D libmp3lame    libmp3lame MP3 ..."; the flags start with A for audio.
    return frozenset(
        fields[1]
        for fields in (line.split() for line in listing.splitlines())
        if len(fields) >= 2 and fields[0].startswith("A") and len(fields[0]) == 6
    )


def available_conditions() -> tuple[str, ...]:
    """The registry's names whose encoder this ffmpeg has, in registry order."""
    encoders = ffmpeg_encoders()
    return tuple(c.name for c in REGISTRY if c.encoder is None or c.encoder in encoders)


def random_condition(rng: np.random.Generator) -> str:
    """One available condition, uniformly at random."""
    names = available_conditions()
    return names[int(rng.integers(len(names)))]


def apply_condition(audio: np.ndarray, rate: int, condition: str) -> np.ndarray:
    """Degrade `audio` by `condition`.

    audio: float32 (channels, n) at 44100 Hz. Returns float32 (channels, n) at 44100 Hz,
    time-aligned with the input. Deterministic for a given input and ffmpeg build.
    """
    spec = _BY_NAME.get(condition)
    if spec is None:
        raise UnknownConditionError(condition)
    if rate != RATE:
        raise CodecError(f"codec condition {condition!r} expects {RATE} Hz audio, got {rate}")
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise CodecError(
            f"codec condition {condition!r} expects mono or stereo (channels, n), got {audio.shape}"
        )
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if spec.encoder is None and spec.band_rate is None:
        return samples.copy()
    if spec.encoder is not None and spec.encoder not in ffmpeg_encoders():
        raise ConditionUnavailableError(condition, spec.encoder)
    if spec.band_rate is not None:
        chain = f"{_soxr(spec.band_rate)},{_soxr(RATE)}"
        decoded = _run_ffmpeg(condition, [*_raw_input(samples), "-af", chain, *RAW_OUTPUT], samples)
        samples = _from_raw(decoded, samples)
    if spec.encoder is not None:
        samples = _from_raw(_encode_decode(spec, samples), samples)
    return samples


def _from_raw(decoded: bytes, like: np.ndarray) -> np.ndarray:
    """ffmpeg's interleaved float32 output as (channels, n) of ``like``'s shape."""
    interleaved = np.frombuffer(decoded, dtype=np.float32)
    return _fit_length(interleaved.reshape(-1, like.shape[0]).T, like.shape[1])


def _encode_decode(spec: Condition, samples: np.ndarray) -> bytes:
    """Encode to a real file (muxers write their gapless headers on seekable output) and decode."""
    assert spec.encoder is not None
    with tempfile.TemporaryDirectory(prefix="soundscape-codec-") as tmp:
        encoded = str(Path(tmp) / f"encoded{spec.suffix}")
        encode = [*_raw_input(samples), "-c:a", spec.encoder, *spec.encode_args, encoded]
        _run_ffmpeg(spec.name, encode, samples)
        channels = str(samples.shape[0])
        decode = ["-i", encoded, "-af", _soxr(RATE), "-ac", channels, *RAW_OUTPUT]
        return _run_ffmpeg(spec.name, decode, None)


RAW_OUTPUT = ("-f", "f32le", "-c:a", "pcm_f32le", "pipe:1")


def _raw_input(samples: np.ndarray) -> list[str]:
    channels = str(samples.shape[0])
    return ["-f", "f32le", "-ar", str(RATE), "-ac", channels, "-i", "pipe:0", "-bitexact"]


def _run_ffmpeg(name: str, args: Sequence[str], samples: np.ndarray | None) -> bytes:
    """Run ffmpeg with `samples` (channels, n), interleaved, on stdin; returns its stdout."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1"]
    stdin = samples.T.tobytes() if samples is not None else None
    try:
        done = subprocess.run([*command, *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise FfmpegError(name, "ffmpeg is not installed") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise FfmpegError(name, message[-1] if message else f"exit status {done.returncode}")
    return done.stdout


def _fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad (channels, m) to (channels, n)."""
    out = np.zeros((audio.shape[0], n), dtype=np.float32)
    keep = min(n, audio.shape[1])
    out[:, :keep] = audio[:, :keep]
    return out
