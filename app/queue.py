"""Celery configuration shared by the API (which only sends) and the workers (which run)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery

from app.config import Settings
from app.tables import ANALYSIS

# Every Celery task name, in one table: the API sends by these names, the workers register
# their tasks under them, and the stage publisher routes stages by them.
START_TASK = "soundscape.pipeline.start"
WEBHOOK_TASK = "soundscape.webhook.deliver"
BATCH_ADVANCE_TASK = "soundscape.batch.advance"
BATCH_WEBHOOK_TASK = "soundscape.webhook.batch"
REAPER_TASK = "soundscape.reaper"
BATCH_SWEEP_TASK = "soundscape.batch.sweep"
ORPHAN_SWEEP_TASK = "soundscape.orphans.sweep"
CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"
# Batch items run on their own queues beside the interactive ones (see batch_queue).
BATCH_QUEUE_SUFFIX = "-batch"


def stage_task(pipeline: str, stage: str) -> str:
    """The task of a pipeline's stage: ``soundscape.stage.<name>`` for an analysis stage,
    ``soundscape.<pipeline>.<name>`` for another pipeline's, so a task knows its pipeline."""
    return f"soundscape.stage.{stage}" if pipeline == ANALYSIS else f"soundscape.{pipeline}.{stage}"


def batch_queue(queue: str) -> str:
    """The queue a batch item's task goes to instead of ``queue``.

    Fairness policy: a worker serving ``cpu`` also serves ``cpu-batch`` (and ``gpu`` with
    ``gpu-batch``, see ``worker_queues``). Kombu takes the next message from the worker's
    queues in turn, so interactive work never waits behind more than one batch task per
    worker slot, however long the batch; and each tenant has at most
    ``batch_max_in_flight`` items queued or running (the rest wait in the database), so
    one tenant's 100,000 tracks cannot crowd out another tenant's batch either.
    """
    return queue + BATCH_QUEUE_SUFFIX


def worker_queues(queues: list[str]) -> list[str]:
    """The queues a worker consumes: each named queue and its batch queue."""
    named = [q for q in queues if q]
    extra = [batch_queue(q) for q in named if not q.endswith(BATCH_QUEUE_SUFFIX)]
    return list(dict.fromkeys(named + extra))


# Message priorities on Redis, where 0 is served first (kombu keeps one list per step and a
# worker takes the best priority over all its queues). Two bands: interactive jobs (0-4)
# before batch items (5-9), so a catalogue scan never holds back a single job (the batch
# fairness policy, see batch_queue); within a band a job's later stages go before its
# earlier ones, and any stage before a new job's start, so a worker finishes the jobs it has
# started before it starts new ones and a job's latency grows with its place in the queue,
# not with the queue's length.
HIGHEST_PRIORITY = 0
FIRST_STAGE_PRIORITY = 3
START_PRIORITY = 4
BATCH_BAND = START_PRIORITY + 1
PRIORITY_STEPS = list(range(START_PRIORITY + BATCH_BAND + 1))


def stage_priority(position: int, count: int, batch: bool = False) -> int:
    """The priority of the stage at ``position`` of ``count``: the last 0, the first 3 (for a
    batch item 5 and 8)."""
    band = BATCH_BAND if batch else 0
    if count <= 1:
        return band + FIRST_STAGE_PRIORITY
    remaining = (count - 1 - position) / (count - 1)
    return band + round(remaining * (FIRST_STAGE_PRIORITY - HIGHEST_PRIORITY))


def start_priority(batch: bool = False) -> int:
    """The priority of a job's start message: after every stage of its band."""
    return START_PRIORITY + (BATCH_BAND if batch else 0)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Reliability settings: a task is acknowledged only after it finishes, and a task whose
    worker died is redelivered (after the visibility timeout on Redis)."""
    transport: dict[str, Any] = {
        "visibility_timeout": settings.visibility_timeout,
        "priority_steps": PRIORITY_STEPS,
    }
    if settings.embedded:
        folder = settings.broker_folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        # A worker outlives any broker outage: it retries the connection for ever (the
        # default gives up after 100 tries, about 50 minutes, and the worker exits).
        "broker_connection_max_retries": None,
        # A stage running when the connection drops finishes and stores its output; its
        # message, unacknowledged, comes back later and is dropped as a duplicate. Canceling
        # it instead would throw away minutes of GPU work for a blip.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # A new pool child (after a crash, or the OOM killer) that loads torch to set its
        # threads can take more than Celery's default 4 s to come up on a busy machine;
        # killed for it and started again in a loop, it held a rerun back 20 s.
        "worker_proc_alive_timeout": 60.0,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.stage_soft_time_limit,
        "task_time_limit": settings.stage_hard_time_limit,
        "task_ignore_result": True,
        "task_default_queue": CPU_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }


@lru_cache(maxsize=4)
def _client(settings: Settings) -> Celery:
    client = Celery("soundscape-api")
    client.conf.update(celery_config(settings))
    return client


def enqueue_job(settings: Settings, job_id: str) -> None:
    """Hand a job to the workers by task name; the worker builds the stage chain itself."""
    _client(settings).send_task(
        START_TASK, args=[job_id], queue=CPU_QUEUE, priority=start_priority()
    )


def enqueue_batch_job(settings: Settings, job_id: str) -> None:
    """Start a batch item's job on the batch queue (its stages follow there too)."""
    _client(settings).send_task(
        START_TASK, args=[job_id], queue=batch_queue(CPU_QUEUE), priority=start_priority(True)
    )


def enqueue_batch_advance(settings: Settings, tenant_id: str, batch_id: str) -> None:
    """After a batch item ended: start the tenant's next items, close the batch if done."""
    _client(settings).send_task(BATCH_ADVANCE_TASK, args=[tenant_id, batch_id], queue=CPU_QUEUE)


def check_broker(settings: Settings) -> None:
    """Raise when the broker cannot be reached."""
    with _client(settings).connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
