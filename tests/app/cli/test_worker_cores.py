"""How `soundscape worker` divides the machine's cores among its pool processes."""

import pytest

from app.cli.worker import split_cores


@pytest.mark.parametrize(
    ("concurrency", "threads", "cores", "expected"),
    [
        (1, 0, 2, (1, 2)),  # the default: one process computing on every core
        (0, 0, 2, (2, 1)),  # one process per core, one thread each
        (2, 0, 8, (2, 4)),
        (3, 0, 2, (3, 1)),  # more processes than cores: never zero threads
        (2, 3, 2, (2, 3)),  # threads asked for are kept
        (0, 0, None, (1, 1)),  # os.cpu_count() unknown
    ],
)
def test_cores_are_divided_among_the_pool_processes(concurrency, threads, cores, expected):
    assert split_cores(concurrency, threads, cores) == expected
