"""Audio decoding and resampling: ffmpeg decodes every container, numpy holds the samples."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import CorruptAudioError


@dataclass(frozen=True)
class Probe:
    """What ffprobe reads from a file's content (not its name)."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_seconds: float | None


def probe_file(path: Path) -> Probe:
    """Describe the first audio stream of ``path``; CorruptAudioError when there is none."""
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-select_streams",
        "a:0",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CorruptAudioError(_first_line(proc.stderr) or "the file could not be read as audio")
    info = json.loads(proc.stdout or "{}")
    streams = info.get("streams") or []
    if not streams:
        raise CorruptAudioError("the file holds no audio stream")
    stream, fmt = streams[0], info.get("format", {})
    duration = stream.get("duration") or fmt.get("duration")
    return Probe(
        container=str(fmt.get("format_name", "")),
        codec=str(stream.get("codec_name", "")),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        duration_seconds=float(duration) if duration not in (None, "N/A") else None,
    )


def decode_file(
    path: Path | str,
    sample_rate: int,
    channels: int,
    max_seconds: float | None = None,
    strict: bool = True,
) -> np.ndarray:
    """Decode any supported file to float32 (channels, n), C-contiguous, at ``sample_rate``.

    ffmpeg resamples (soxr) and up/down-mixes. ``-xerror`` turns decoding errors inside the
    stream (truncation, corrupt frames) into a CorruptAudioError instead of silence;
    ``strict=False`` leaves it out, for streams whose short last packet is no error.
    ffmpeg writes raw samples to a temporary file (under TMPDIR) rather than a pipe: its
    size gives the length up front, so the result is filled in place and peak memory is
    about one decoded copy, not the three a captured pipe and a transpose would take.
    """
    return _decode(path, sample_rate, channels, max_seconds, strict)[0]


def decode_damaged(
    path: Path | str, sample_rate: int, channels: int, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode a stream with undecodable packets, skipping them as players do: the samples
    (as ``decode_file``) and the number of decoder error messages (one to three per bad
    packet; "Last message repeated N times" counts N more)."""
    samples, stderr = _decode(path, sample_rate, channels, max_seconds, strict=False)
    errors = 0
    for line in stderr.splitlines():
        repeated = re.search(r"Last message repeated (\d+) times", line)
        errors += int(repeated.group(1)) if repeated else int(bool(line.strip()))
    return samples, errors


def count_packets(path: Path | str) -> int:
    """Packets of the first audio stream, counted by demuxing (no decoding); 0 if unknown."""
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "a:0"]
        + ["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    text = proc.stdout.strip().split(",")[0] if proc.returncode == 0 else ""
    return int(text) if text.isdigit() else 0


def _decode(
    path: Path | str,
    sample_rate: int,
    channels: int,
    max_seconds: float | None,
    strict: bool,
) -> tuple[np.ndarray, str]:
    with tempfile.TemporaryDirectory(prefix="soundscape-decode-") as tmp:
        raw = Path(tmp) / "samples.f32"
        cmd = ["ffmpeg", "-nostdin", "-v", "error", *(["-xerror"] if strict else [])]
        cmd += ["-i", str(path)]
        if max_seconds is not None:
            cmd += ["-t", f"{max_seconds:.3f}"]
        cmd += ["-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(sample_rate)]
        cmd += ["-af", "aresample=resampler=soxr", "-f", "f32le", "-acodec", "pcm_f32le"]
        proc = subprocess.run([*cmd, "-y", str(raw)], capture_output=True, check=False)
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise CorruptAudioError(_first_line(stderr) or "ffmpeg could not decode the audio")
        return read_interleaved(raw, channels), stderr


def read_interleaved(raw: Path, channels: int, block_frames: int = 1 << 18) -> np.ndarray:
    """Raw interleaved little-endian float32 file -> float32 (channels, n), C-contiguous.

    Reads ``block_frames`` frames at a time into the preallocated result, so no second
    full-length array exists. A trailing partial frame is dropped.
    """
    frames = raw.stat().st_size // (4 * channels)
    out = np.empty((channels, frames), dtype=np.float32)
    with raw.open("rb") as fh:
        for first in range(0, frames, block_frames):
            count = min(block_frames, frames - first)
            block = np.fromfile(fh, dtype="<f4", count=count * channels)
            out[:, first : first + count] = block.reshape(count, channels).T
    return out


def read_mono(path: Path | str, block_frames: int = 1 << 18) -> tuple[np.ndarray, int]:
    """An audio file's channels averaged, float32 (n,), and its rate, read a block at a
    time: the multichannel audio is never whole in memory (half of it for a stereo file)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as source:
        mono = np.empty(source.frames, dtype=np.float32)
        filled = 0
        for block in source.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            mono[filled : filled + len(block)] = block.mean(axis=1)
            filled += len(block)
        return mono[:filled], int(source.samplerate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: (channels, n) -> (n,)."""
    return samples.mean(axis=0) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling along the last axis (soxr high quality via librosa)."""
    if orig_sr == target_sr:
        return samples.astype(np.float32, copy=False)
    import librosa

    out = librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")
    return out.astype(np.float32, copy=False)


def _first_line(text: str) -> str:
    """ffmpeg's last error line, without its "[codec @ 0x...]" or "path:" prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", lines[-1])
    line = re.sub(r"^/\S*?:\s", "", line)
    return f"the audio data is corrupt or truncated ({line})"
