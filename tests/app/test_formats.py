"""Formats are told from content, never from the file name."""

import pytest

from app.errors import EmptyAudioError, NotAudioError, UnsupportedFormatError
from app.formats import SNIFF_BYTES, sniff_format, wav_length_unknown
from tests.conftest import make_tone_file


@pytest.mark.parametrize(
    "suffix,expected",
    [
        (".wav", "wav"),
        (".flac", "flac"),
        (".mp3", "mp3"),
        (".ogg", "ogg"),
        (".opus", "opus"),
        (".m4a", "m4a"),
        (".aac", "aac"),
        (".aiff", "aiff"),
    ],
)
def test_each_supported_format_is_recognised_from_its_bytes(tmp_path, ffmpeg, suffix, expected):
    path = make_tone_file(tmp_path / f"tone{suffix}", seconds=1.0)
    assert sniff_format(path.read_bytes()[:4096]) == expected


def test_a_misleading_file_name_does_not_matter(tmp_path, ffmpeg):
    path = make_tone_file(tmp_path / "tone.flac", seconds=1.0)
    renamed = path.rename(tmp_path / "song.mp3")
    assert sniff_format(renamed.read_bytes()[:4096]) == "flac"


def test_empty_content_is_its_own_error():
    with pytest.raises(EmptyAudioError):
        sniff_format(b"")


@pytest.mark.parametrize(
    "head", [b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"%PDF-1.7\n", b"hello, world"]
)
def test_non_audio_content_is_refused_as_not_audio(head):
    with pytest.raises(NotAudioError):
        sniff_format(head)


def test_known_but_unsupported_audio_is_named(tmp_path):
    with pytest.raises(UnsupportedFormatError, match="MIDI"):
        sniff_format(b"MThd\x00\x00\x00\x06\x00\x01")


def test_a_wav_of_unknown_length_is_told_from_a_sized_one(tmp_path, ffmpeg):
    sized = make_tone_file(tmp_path / "tone.wav", seconds=0.5).read_bytes()[:SNIFF_BYTES]
    assert not wav_length_unknown(sized)
    for field in (slice(4, 8), slice(sized.index(b"data") + 4, sized.index(b"data") + 8)):
        piped = bytearray(sized)
        piped[field] = b"\xff\xff\xff\xff"
        assert wav_length_unknown(bytes(piped))
    assert not wav_length_unknown(b"RF64\xff\xff\xff\xffWAVE")
