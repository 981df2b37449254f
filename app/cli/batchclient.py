"""The HTTP client behind ``soundscape batch``: submit a folder (one upload per file) or a
CSV/JSONL manifest as one batch, resume an interrupted submission, wait, fetch results.

Resuming: a folder's batch is created with an Idempotency-Key derived from the folder's
absolute path (a manifest's from its content), so running the same command again finds the
same batch; files already in it with the same content (sha256) are not sent again.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from app.hashing import sha256_file

MAX_RETRY_AFTER = 60.0
CONNECTION_RETRIES = 3
ENDED = ("completed", "canceled")


class ApiError(Exception):
    """The server answered with a problem (``code``) or could not be reached."""

    def __init__(self, detail: str, code: str = "", status: int = 0) -> None:
        super().__init__(detail)
        self.detail, self.code, self.status = detail, code, status


class BatchClient:
    """One server and API key; safe to share between upload threads."""

    def __init__(self, server: str, key: str, timeout: float = 300.0) -> None:
        self.server, self.key, self.timeout = server.rstrip("/"), key, timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.key}"
        session: requests.Session = self._local.session
        return session

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send, waiting out 429s (Retry-After) and brief connection failures."""
        failures = 0
        while True:
            for part in kwargs.get("files", {}).values():
                part[1].seek(0)  # a resent upload starts from its first byte again
            try:
                response = self._session().request(
                    method, self.server + path, timeout=self.timeout, **kwargs
                )
            except requests.ConnectionError as exc:
                failures += 1
                if failures > CONNECTION_RETRIES:
                    raise ApiError(f"cannot reach {self.server} ({exc})") from None
                time.sleep(2.0**failures)
                continue
            if response.status_code == 429:
                time.sleep(min(float(response.headers.get("Retry-After", "1")), MAX_RETRY_AFTER))
                continue
            if response.status_code >= 400:
                raise _api_error(response)
            return response

    def create(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key}
        return dict(self.request("POST", "/v1/batches", json=body, headers=headers).json())

    def create_from_manifest(self, path: Path, idempotency_key: str) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key}
        with path.open("rb") as fh:
            files = {"file": (path.name, fh)}
            answer = self.request("POST", "/v1/batches", files=files, headers=headers)
        return dict(answer.json())

    def get(self, batch_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/batches/{batch_id}").json())

    def items(self, batch_id: str) -> Iterator[dict[str, Any]]:
        cursor = ""
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = self.request("GET", f"/v1/batches/{batch_id}/items", params=params).json()
            yield from page["data"]
            if not page["next_cursor"]:
                return
            cursor = page["next_cursor"]

    def upload(self, batch_id: str, custom_id: str, path: Path) -> dict[str, Any]:
        with path.open("rb") as fh:
            answer = self.request(
                "POST",
                f"/v1/batches/{batch_id}/items",
                params={"custom_id": custom_id},
                data={"custom_id": custom_id},
                files={"file": (path.name, fh)},
            )
        return dict(answer.json())

    def close(self, batch_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/batches/{batch_id}/close").json())

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/batches/{batch_id}/cancel").json())

    def results(self, batch_id: str, fmt: str, out: IO[bytes]) -> None:
        path = f"/v1/batches/{batch_id}/results"
        answer = self.request("GET", path, params={"format": fmt}, stream=True)
        for chunk in answer.iter_content(1 << 16):
            out.write(chunk)


def _api_error(response: requests.Response) -> ApiError:
    try:
        problem = response.json()
        return ApiError(str(problem.get("detail")), str(problem.get("code")), response.status_code)
    except ValueError:
        return ApiError(f"HTTP {response.status_code} from the server", "", response.status_code)


@dataclass
class Submission:
    """What one ``submit`` did: the batch, and how many files were sent, skipped, refused."""

    batch: dict[str, Any]
    sent: int = 0
    skipped: int = 0
    refused: int = 0
    warnings: list[str] = field(default_factory=list)


def folder_files(folder: Path) -> list[tuple[str, Path]]:
    """(custom_id, path) of every file under ``folder`` but hidden ones, in path order;
    the custom_id is the path relative to the folder."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found.append((relative.as_posix(), path))
    return found


def submit_folder(
    client: BatchClient,
    folder: Path,
    body: dict[str, Any],
    fresh: bool,
    parallel: int,
    progress: Callable[[int, int], None],
) -> Submission:
    """Upload every file under ``folder`` into one batch (resuming the folder's batch if it
    exists) and close it. ``progress(done, total)`` follows the uploads."""
    seed = f"folder:{folder.resolve()}" + (f":{uuid.uuid4()}" if fresh else "")
    batch = client.create(body, "soundscape-batch-" + hashlib.sha256(seed.encode()).hexdigest())
    files = folder_files(folder)
    result = Submission(batch)
    if batch["status"] != "open":
        result.skipped = len(files)
        result.warnings.append(
            f"batch {batch['id']} for this folder is already {batch['status']}: nothing sent "
            "(use --new for a fresh batch)"
        )
        return result
    known = {item["custom_id"]: item.get("sha256") for item in client.items(batch["id"])}
    todo = []
    for custom_id, path in files:
        if custom_id not in known:
            todo.append((custom_id, path))
            continue
        result.skipped += 1
        if known[custom_id] not in (None, sha256_file(path)):
            result.warnings.append(f"{custom_id} changed since it was sent; the first is kept")
    progress(0, len(todo))
    with closing(_upload_all(client, batch["id"], todo, parallel)) as uploads:
        for item in uploads:
            result.sent += 1
            result.refused += item["status"] == "failed"
            progress(result.sent, len(todo))
    result.batch = client.close(batch["id"])
    return result


def _upload_all(
    client: BatchClient, batch_id: str, todo: list[tuple[str, Path]], parallel: int
) -> Generator[dict[str, Any], None, None]:
    """Upload with at most ``parallel`` requests in flight; an interruption (Ctrl-C, an
    error) leaves only those few to finish, and a later run sends the rest."""
    pending: deque[Future[dict[str, Any]]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        try:
            for custom_id, path in todo:
                if len(pending) >= max(1, parallel):
                    yield pending.popleft().result()
                pending.append(pool.submit(client.upload, batch_id, custom_id, path))
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def submit_manifest(
    client: BatchClient, manifest: Path, fresh: bool, progress: Callable[[int, int], None]
) -> Submission:
    """Send a CSV/JSONL manifest as one batch; the same manifest again finds that batch."""
    seed = f"manifest:{sha256_file(manifest)}" + (f":{uuid.uuid4()}" if fresh else "")
    size = manifest.stat().st_size
    progress(0, size)
    batch = client.create_from_manifest(
        manifest, "soundscape-batch-" + hashlib.sha256(seed.encode()).hexdigest()
    )
    progress(size, size)
    return Submission(batch, sent=batch["item_count"], refused=batch["counts"]["failed"])


def wait(
    client: BatchClient, batch_id: str, interval: float, progress: Callable[[int, int], None]
) -> dict[str, Any]:
    """Poll until the batch has ended; ``progress(ended items, items)`` at each poll."""
    while True:
        batch = client.get(batch_id)
        counts = batch["counts"]
        progress(counts["succeeded"] + counts["failed"] + counts["canceled"], batch["item_count"])
        if batch["status"] in ENDED:
            return batch
        time.sleep(interval)
