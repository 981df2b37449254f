"""A worker judges others dead by their missing beats only after beating a whole silence
window itself without a gap (workers/publisher.py BeatStreak)."""

from __future__ import annotations

from workers.publisher import BeatStreak


def test_beats_are_judged_only_after_a_whole_window_without_a_gap():
    streak = BeatStreak(interval=5)
    assert not streak.steady(0, 15)
    assert [streak.beat(t) for t in (0, 5, 10)] == [0, 5, 10]
    assert not streak.steady(10, 15)
    assert streak.beat(15) == 15 and streak.steady(16, 15)


def test_a_gap_in_the_beats_starts_the_window_again():
    streak = BeatStreak(interval=5)
    for t in (0, 5, 10, 15, 20):
        streak.beat(t)
    assert not streak.steady(31, 15)  # no beat for 11 s: the database may be down
    assert streak.beat(95) == 0  # every row is stale now, though every worker lives
    assert not streak.steady(100, 15)
