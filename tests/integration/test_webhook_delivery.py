"""A webhook whose sender is killed mid-delivery (#22 item 4): the attempt was logged before
the send, the event is sent once more when its lease ends, with the same webhook-id, and
never a third time; on the deployed workers, a module's own Redis and database."""

from __future__ import annotations

import http.server
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.services.tenants import create_key
from tests.conftest import SPEECH
from tests.integration.conftest import (
    ROLES,
    LocalServer,
    Stack,
    stack_env,
    start_roles,
    wait_until,
)
from tests.integration.test_broker_outage import attempts
from tests.integration.test_service import excerpt, submit_file

pytestmark = pytest.mark.integration


class FirstHeldReceiver(LocalServer):
    """A client's endpoint that holds the first delivery open until ``release`` is set,
    then answers every delivery 204. ``ids`` lists the webhook-id of each POST."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.held = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["content-length"]))
                receiver.ids.append(self.headers["webhook-id"])
                if len(receiver.ids) == 1:
                    receiver.held.set()
                    receiver.release.wait(120)
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(Handler, "/hooks")


@pytest.fixture(scope="module")
def deployed(database, broker, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("delivery-stack")
    env = stack_env(data_dir, database, f"{broker.url}/0", s3_endpoint, webhook_timeout="10")
    running = start_roles(env, data_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(deployed: Stack) -> str:
    return create_key(deployed.settings.database_url, f"delivery-{uuid.uuid4().hex[:6]}")


def test_workers_killed_mid_delivery_send_the_event_once_more_and_log_both_attempts(
    deployed, key, audio_dir, tmp_path
):
    path = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 4)
    with FirstHeldReceiver() as receiver:
        job_id = submit_file(deployed, key, path, {"webhook_url": receiver.url})["id"]
        wait_until(receiver.held.is_set, 300, "the job.succeeded webhook to be in flight")
        for role in ROLES:  # whichever worker's dispatcher sends it dies mid-send
            os.killpg(deployed.roles[role].pid, signal.SIGKILL)
            deployed.roles[role].wait(timeout=10)
        killed = time.monotonic()
        receiver.release.set()
        for role in ROLES:
            deployed.start_role(role)
        wait_until(lambda: len(receiver.ids) >= 2, 180, "the event to be sent again")
        print(f"\nsender killed mid-delivery: sent again {time.monotonic() - killed:.1f} s after")
        time.sleep(5)  # a third delivery would come within a few dispatch rounds
    event = f"msg_{job_id}_succeeded"
    assert receiver.ids == [event, event]
    assert attempts(deployed, event) == [(1, None, False), (2, 204, True)]
