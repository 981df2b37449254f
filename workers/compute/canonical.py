"""Canonical audio: check a source file is usable audio and decode its 44.1 kHz stereo form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from app.errors import (
    CorruptAudioError,
    EmptyAudioError,
    SilentAudioError,
    TooLongError,
    TooShortError,
)
from app.formats import SNIFF_BYTES, sniff_format, wav_length_unknown
from app.hashing import sha256_file
from workers.compute.audio import count_packets, decode_damaged, decode_file, probe_file

CANONICAL_RATE = 44100
CANONICAL_CHANNELS = 2
SILENCE_PEAK_DBFS = -60.0
# A decode that yields less than this share of the duration the header declares is truncated.
TRUNCATION_RATIO = 0.9
# A stream whose decoder reports errors on at most this share of its packets is analysed
# with the bad packets skipped (as players do) and a warning; past it, it is corrupt.
MAX_DAMAGED_SHARE = 0.01
# BS.1770-4 gating: 400 ms blocks every 100 ms (75 % overlap), absolute gate -70 LUFS.
LOUDNESS_BLOCK_SECONDS = 0.4
LOUDNESS_STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0


@dataclass(frozen=True)
class TrackInfo:
    """Facts about the source file; ``sample_rate``/``channels`` are the source's own."""

    format: str
    container: str
    codec: str
    size_bytes: int
    sha256: str
    duration_seconds: float
    sample_rate: int
    channels: int
    loudness_lufs: float | None
    peak_dbfs: float

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class IngestedTrack:
    info: TrackInfo
    canonical: np.ndarray  # float32 (2, n) at 44.1 kHz
    warnings: tuple[str, ...] = ()


def ingest_file(path: Path, max_duration: float, min_duration: float = 0.5) -> IngestedTrack:
    """Validate and decode ``path``; raises a specific PipelineError for each kind of bad input."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyAudioError("the file is empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    fmt = sniff_format(head)
    if fmt in ("ogg", "opus"):
        _check_ogg_complete(path)
    probe = probe_file(path)
    if probe.duration_seconds and probe.duration_seconds > max_duration + 1.0:
        raise TooLongError(_too_long(probe.duration_seconds, max_duration))
    # A WAV written to a pipe declares no length: its last packet is short by design, which
    # ffmpeg's strict mode calls corrupt, and no declared length exists to be cut short of.
    strict = not (fmt == "wav" and wav_length_unknown(head))
    samples, warnings = _decode_canonical(path, max_duration + 1.0, strict)
    duration = samples.shape[1] / CANONICAL_RATE
    _check_duration(duration, probe.duration_seconds, max_duration, min_duration)
    peak = _peak_dbfs(samples)
    if peak < SILENCE_PEAK_DBFS:
        raise SilentAudioError(f"the audio is silent (peak {peak:.1f} dBFS)")
    info = TrackInfo(
        format=fmt,
        container=probe.container,
        codec=probe.codec,
        size_bytes=size,
        sha256=sha256_file(path),
        duration_seconds=round(duration, 3),
        sample_rate=probe.sample_rate,
        channels=probe.channels,
        loudness_lufs=integrated_loudness(samples, CANONICAL_RATE),
        peak_dbfs=round(peak, 2),
    )
    return IngestedTrack(info=info, canonical=samples, warnings=warnings)


def _decode_canonical(
    path: Path, max_seconds: float, strict: bool
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The canonical samples; a stream with a few undecodable packets is decoded past them
    (catalogues hold such files, and players play them), with a warning saying how much."""
    try:
        return decode_file(path, CANONICAL_RATE, CANONICAL_CHANNELS, max_seconds, strict), ()
    except CorruptAudioError as strict_error:
        if not strict:
            raise
        samples, errors = decode_damaged(path, CANONICAL_RATE, CANONICAL_CHANNELS, max_seconds)
        packets = count_packets(path)
        if packets == 0 or errors > MAX_DAMAGED_SHARE * packets:
            raise CorruptAudioError(
                f"{strict_error}; {errors} decoding errors in {packets} packets, more than "
                f"the {MAX_DAMAGED_SHARE:.0%} of packets that may be skipped"
            ) from None
    seconds = samples.shape[1] / CANONICAL_RATE
    lost = min(errors, packets) * seconds / packets
    return samples, (
        f"the file has undecodable packets: {errors} decoding errors in {packets} packets "
        f"were skipped (at most {lost:.2f} s of {seconds:.1f} s of audio); the rest was analysed",
    )


def _check_duration(decoded: float, declared: float | None, max_s: float, min_s: float) -> None:
    if decoded == 0.0:
        raise CorruptAudioError("no audio could be decoded from the file")
    if declared and declared > 1.0 and decoded < TRUNCATION_RATIO * min(declared, max_s):
        raise CorruptAudioError(
            f"the file is truncated: its header declares {declared:.1f} s "
            f"but only {decoded:.1f} s decode"
        )
    if decoded > max_s:
        raise TooLongError(_too_long(decoded, max_s))
    if decoded < min_s:
        raise TooShortError(f"the audio lasts {decoded:.2f} s; at least {min_s:g} s is needed")


def _check_ogg_complete(path: Path) -> None:
    # Ogg carries no total length to compare against; a complete stream ends with a page
    # whose header flags end-of-stream (0x04), so a cut file is caught here.
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        tail = fh.read()
    last = tail.rfind(b"OggS")
    if last < 0 or last + 5 >= len(tail) or not tail[last + 5] & 0x04:
        raise CorruptAudioError("the Ogg stream is truncated: it has no end-of-stream page")


def _too_long(seconds: float, max_s: float) -> str:
    return f"the audio lasts {seconds:.0f} s; the limit is {max_s:.0f} s"


def _peak_dbfs(samples: np.ndarray, block_frames: int = 1 << 18) -> float:
    """Sample peak in dBFS, a block at a time: np.abs of the whole track would copy it."""
    peak = 0.0
    for first in range(0, samples.shape[-1], block_frames):
        peak = max(peak, float(np.max(np.abs(samples[..., first : first + block_frames]))))
    return 20.0 * float(np.log10(peak)) if peak > 0 else -np.inf


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float | None:
    """ITU-R BS.1770-4 integrated loudness in LUFS of float (channels, n) samples.

    None when too short to gate (< 0.4 s) or when every block is gated out (silence).
    Front channels only (every channel weighs 1.0, as for stereo). Computed a block at a
    time: memory stays at a few MB whatever the length, where pyloudnorm copies the whole
    track to float64 and filters it channel by channel. Same filters and gating as
    pyloudnorm.Meter.integrated_loudness; results agree to 0.01 LU.
    """
    if samples.shape[-1] < int(LOUDNESS_BLOCK_SECONDS * sample_rate):
        return None
    step = int(round(LOUDNESS_STEP_SECONDS * sample_rate))
    per_block = int(round(LOUDNESS_BLOCK_SECONDS / LOUDNESS_STEP_SECONDS))
    seconds = samples.shape[-1] / sample_rate
    n_blocks = int(np.round((seconds - LOUDNESS_BLOCK_SECONDS) / LOUDNESS_STEP_SECONDS)) + 1
    energy = _k_weighted_step_energy(np.atleast_2d(samples), sample_rate, step)
    energy = np.pad(energy, (0, max(0, n_blocks + per_block - 1 - len(energy))))
    windows = np.lib.stride_tricks.sliding_window_view(energy, per_block)[:n_blocks]
    power = windows.sum(axis=1) / (LOUDNESS_BLOCK_SECONDS * sample_rate)
    value = _gated_loudness(power)
    return round(value, 2) if value is not None else None


def _k_weighted_step_energy(samples: np.ndarray, sample_rate: int, step: int) -> np.ndarray:
    """Sum over channels of the K-weighted squares per ``step`` samples: (ceil(n / step),)."""
    from pyloudnorm.iirfilter import IIRfilter

    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    sos = np.array([np.concatenate([f.b, f.a]) for f in stages])
    state = np.zeros((len(stages), samples.shape[0], 2))
    n = samples.shape[-1]
    chunk = step * 100
    energy = np.zeros(-(-n // step))
    for first in range(0, n, chunk):
        block = samples[:, first : first + chunk].astype(np.float64)
        filtered, state = scipy.signal.sosfilt(sos, block, axis=-1, zi=state)
        squares = np.square(filtered).sum(axis=0)
        count = -(-len(squares) // step)
        squares = np.pad(squares, (0, count * step - len(squares)))
        energy[first // step : first // step + count] = squares.reshape(count, step).sum(axis=1)
    return energy


def _gated_loudness(power: np.ndarray) -> float | None:
    """BS.1770-4 gating of per-block mean-square power: absolute -70 LUFS, then relative -10 LU."""
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(power)
    audible = loudness >= ABSOLUTE_GATE_LUFS
    if not audible.any():
        return None
    relative = -0.691 + 10.0 * np.log10(power[audible].mean()) - 10.0
    kept = power[(loudness > relative) & (loudness > ABSOLUTE_GATE_LUFS)]
    if not kept.size:
        return None
    return float(-0.691 + 10.0 * np.log10(kept.mean()))


def write_flac(
    samples: np.ndarray, sample_rate: int, path: Path, block_frames: int = 1 << 18
) -> Path:
    """Write float32 (channels, n) samples as 24-bit FLAC, ``block_frames`` frames at a
    time: only one block is ever interleaved, never a transposed copy of the whole track."""
    channels = samples.shape[0]
    with sf.SoundFile(
        str(path), "w", sample_rate, channels, subtype="PCM_24", format="FLAC"
    ) as out:
        for first in range(0, samples.shape[1], block_frames):
            out.write(np.ascontiguousarray(samples[:, first : first + block_frames].T))
    return path
