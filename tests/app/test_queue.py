"""Message priorities: interactive work before batch items; within each, a job's later stages
are served before its earlier ones, and every stage before a new job's start (Redis serves
priority 0 first)."""

from app.queue import HIGHEST_PRIORITY, PRIORITY_STEPS, stage_priority, start_priority


def test_later_stages_outrank_earlier_ones_and_every_stage_outranks_a_start():
    for batch in (False, True):
        priorities = [stage_priority(position, 4, batch) for position in range(4)]
        assert priorities == sorted(priorities, reverse=True) and len(set(priorities)) == 4
        assert max(priorities) < start_priority(batch)
    assert stage_priority(3, 4) == HIGHEST_PRIORITY


def test_every_interactive_message_outranks_every_batch_message():
    interactive = {stage_priority(p, n) for n in range(1, 9) for p in range(n)}
    batch = {stage_priority(p, n, True) for n in range(1, 9) for p in range(n)}
    assert max(interactive | {start_priority()}) < min(batch | {start_priority(True)})


def test_every_priority_has_its_own_step():
    used = {stage_priority(p, n, b) for n in range(1, 9) for p in range(n) for b in (False, True)}
    assert used | {start_priority(), start_priority(True)} <= set(PRIORITY_STEPS)
