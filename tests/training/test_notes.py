"""Karaoke note files (UltraStar): where the singer sings, in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AUDIO_DIR
from training.corpus.notes import NotesError, sung_phrases, sung_spans

NOTES = """#TITLE:Test
#BPM:150,5
#GAP:2000
: 0 4 4 Where
* 6 2 5  did
- 10
F 40 8 0  ah
R 100 4 0  yo
E
"""


def test_beats_become_seconds_from_the_gap(tmp_path: Path) -> None:
    path = tmp_path / "song.notes.txt"
    path.write_text(NOTES)
    beat = 60.0 / (4 * 150.5)
    spans = sung_spans(path)
    assert spans == [
        pytest.approx((2.0, 2.0 + 4 * beat)),
        pytest.approx((2.0 + 6 * beat, 2.0 + 8 * beat)),
        pytest.approx((2.0 + 40 * beat, 2.0 + 48 * beat)),
        pytest.approx((2.0 + 100 * beat, 2.0 + 104 * beat)),
    ]
    # a pause of 0.2 s joins, one of 3 s does not
    phrases = sung_phrases(spans, join_gap=1.0)
    assert len(phrases) == 3 and phrases[0] == pytest.approx((2.0, 2.0 + 8 * beat))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (": 0 4 4 la\n", "before a positive #BPM"),
        ("#BPM:120\n#RELATIVE:yes\n: 0 4 4 la\n", "relative note timing"),
        ("#BPM:120\n#GAP:0\n", "no sung notes"),
    ],
)
def test_files_it_cannot_read_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.notes.txt"
    path.write_text(text)
    with pytest.raises(NotesError, match=message):
        sung_spans(path)


def test_every_shared_song_has_sung_phrases_long_enough_for_a_window() -> None:
    files = sorted((AUDIO_DIR / "songs").glob("*.notes.txt"))
    assert len(files) >= 8
    for notes in files:
        phrases = sung_phrases(sung_spans(notes))
        # the singer starts within the first 20 s and sings several 4 s phrases
        assert 0.0 <= phrases[0][0] < 20.0, notes.name
        assert sum(1 for a, b in phrases if b - a >= 4.1) >= 4, notes.name
