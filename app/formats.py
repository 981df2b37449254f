"""Tell an audio format from a file's first bytes, never from its name."""

from __future__ import annotations

from app.errors import EmptyAudioError, NotAudioError, UnsupportedFormatError

SNIFF_BYTES = 4096
SUPPORTED = ("wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "aiff")

# Audio we recognise but do not accept: the client gets "unsupported", not "not audio".
_UNSUPPORTED_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"MThd", "MIDI (notes, not a recording)"),
    (b"#!AMR", "AMR"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "WMA/ASF"),
    (b".snd", "Sun AU"),
    (b"MAC ", "Monkey's Audio"),
    (b"wvpk", "WavPack"),
    (b"caff", "Core Audio Format"),
)
_NOT_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
)


def sniff_format(head: bytes) -> str:
    """Name the audio format of a file from its first bytes (``SNIFF_BYTES`` is enough).

    Raises EmptyAudioError, UnsupportedFormatError (audio we do not take) or NotAudioError.
    """
    if not head:
        raise EmptyAudioError("the file is empty (0 bytes)")
    found = _sniff_supported(head)
    if found:
        return found
    for magic, name in _UNSUPPORTED_AUDIO:
        if head.startswith(magic):
            raise UnsupportedFormatError(
                f"{name} is not supported; send one of: {', '.join(SUPPORTED)}"
            )
    for magic, name in _NOT_AUDIO:
        if head.startswith(magic):
            raise NotAudioError(f"the file is {name}, not audio")
    raise NotAudioError(
        f"the content is not a recognised audio format (supported: {', '.join(SUPPORTED)})"
    )


# Sizes a WAV writer puts in the header when it cannot seek back (``ffmpeg -f wav -``).
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)


def wav_length_unknown(head: bytes) -> bool:
    """True for a RIFF WAV written to a pipe: its RIFF or data chunk size is 0 or 0xFFFFFFFF,
    so the audio runs to the end of the file. (RF64 declares its sizes in a ds64 chunk.)"""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    if int.from_bytes(head[4:8], "little") in _UNKNOWN_WAV_SIZES:
        return True
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = (
            head[offset : offset + 4],
            int.from_bytes(head[offset + 4 : offset + 8], "little"),
        )
        if chunk == b"data":
            return size in _UNKNOWN_WAV_SIZES
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return False


def _sniff_supported(head: bytes) -> str | None:
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "opus" if b"OpusHead" in head[:512] else "ogg"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"ID3"):
        return _after_id3(head)
    return _mpeg_frame(head)


def _after_id3(head: bytes) -> str:
    # ID3v2 tags precede MP3 (and sometimes AAC/FLAC) data; the size is a 28-bit syncsafe int.
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    rest = head[10 + size :]
    if rest.startswith(b"fLaC"):
        return "flac"
    return _mpeg_frame(rest) or "mp3"


def _mpeg_frame(head: bytes) -> str | None:
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0x03
    if layer == 0:
        return "aac" if head[1] & 0xF6 == 0xF0 else None  # ADTS: 12-bit sync, layer 00
    return "mp3"
