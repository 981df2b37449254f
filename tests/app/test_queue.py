"""Message priorities: a job's later stages are served before its earlier ones, and every
stage before a new job's start (Redis serves priority 0 first)."""

from app.queue import HIGHEST_PRIORITY, PRIORITY_STEPS, START_PRIORITY, stage_priority


def test_later_stages_outrank_earlier_ones_and_every_stage_outranks_a_start():
    priorities = [stage_priority(position, 4) for position in range(4)]
    assert priorities == sorted(priorities, reverse=True) and len(set(priorities)) == 4
    assert priorities[-1] == HIGHEST_PRIORITY and max(priorities) < START_PRIORITY


def test_every_priority_has_its_own_step():
    used = {stage_priority(p, n) for n in range(1, 9) for p in range(n)} | {START_PRIORITY}
    assert used <= set(PRIORITY_STEPS)
