"""Decoding a corpus file with ffmpeg to 44.1 kHz stereo 16-bit FLAC, its duration probed
first and digital silence trimmed from its ends."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from training.corpus.records import run_tool

OUTPUT_RATE = 44100


# Digital silence: 16-bit samples at most this far from zero (about -80 dBFS), cut from either
# end of a decoded file when at least MIN_SILENT_END_SECONDS of it lie there.
SILENCE_LEVEL = 3


MIN_SILENT_END_SECONDS = 1.0


def probe_duration(path: Path) -> float | None:
    """Duration in seconds as ffprobe reads it, or None where ffmpeg cannot decode the file."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(done.stdout.strip())
    except ValueError:
        return None


def decode_to_flac(source: Path, target: Path) -> float:
    """Decode `source` to 44.1 kHz stereo 16-bit FLAC at `target` unless it exists; seconds.

    Digital silence at either end (tracker modules render their pattern gaps and an empty
    tail) is cut off, so that no excerpt of a music track is silence; a file that is silence
    throughout is kept whole."""
    if not target.exists():
        partial = target.with_suffix(".partial.flac")
        run_tool(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-map", "0:a:0"]
            + ["-af", f"aresample={OUTPUT_RATE}:resampler=soxr", "-ac", "2"]
            + ["-sample_fmt", "s16", "-c:a", "flac", str(partial)],
            f"ffmpeg decode {source.name}",
        )
        trim_silent_ends(partial)
        partial.replace(target)
    else:  # decoded by an earlier run, perhaps by a builder that did not trim yet
        trim_silent_ends(target, partial=target.with_suffix(".partial.flac"))
    info = sf.info(str(target))
    return float(info.frames) / float(info.samplerate)


def trim_silent_ends(path: Path, partial: Path | None = None) -> None:
    """Rewrite the FLAC at ``path`` without its leading and trailing digital silence (samples
    below SILENCE_LEVEL) when that is at least MIN_SILENT_END_SECONDS; silence throughout stays.
    With ``partial``, the trimmed audio is written there first and then replaces ``path``."""
    audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)).max(axis=1) > SILENCE_LEVEL)
    if loud.size == 0:
        return
    first, last = int(loud[0]), int(loud[-1]) + 1
    if first + (audio.shape[0] - last) < MIN_SILENT_END_SECONDS * rate:
        return
    sf.write(str(partial or path), audio[first:last], rate, format="FLAC", subtype="PCM_16")
    if partial is not None:
        partial.replace(path)
