"""What a stage runs with in this process: settings, storage and database sessions."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from app import jobstate
from app.config import Settings, load_settings
from app.db import get_sessionmaker
from app.jobstate import JobRef
from app.storage import Storage, job_key, make_storage


@dataclass(frozen=True)
class GalleryRef:
    """Whose artist gallery the identify stage matches against: a database and a tenant
    (None: a tenant with no gallery, so nothing matches)."""

    database_url: str
    tenant_id: uuid.UUID | None


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    storage: Storage
    # Unset: the job's own tenant in the settings' database. `soundscape analyze` runs its job
    # in scratch space but matches against the local tenant of the configured database.
    gallery: GalleryRef | None = None

    def gallery_for(self, job: JobRef) -> GalleryRef:
        return self.gallery or GalleryRef(self.settings.database_url, job.tenant_id)

    def session(self) -> Session:
        return get_sessionmaker(self.settings.database_url)()

    @contextlib.contextmanager
    def workdir(self) -> Iterator[Path]:
        """A scratch folder under the data dir, removed afterwards (and swept at worker start
        when a killed worker could not remove it)."""
        root = self.settings.data_dir / "work"
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="stage-", dir=root) as tmp:
            yield Path(tmp)

    def store_artifact(self, job: JobRef, name: str, path: Path, content_type: str) -> str:
        """Upload ``path`` under the job's deterministic key for ``name`` and record it."""
        key = job_key(job.tenant_id, job.id, path.name)
        size = self.storage.put_file(key, path, content_type)
        with self.session() as session:
            jobstate.record_artifact(session, job.id, name, key, content_type, size)
        return key


def sweep_workdirs(settings: Settings) -> None:
    """Remove scratch folders older than any stage may run: their worker was killed."""
    root = settings.data_dir / "work"
    cutoff = time.time() - settings.stage_hard_time_limit
    for folder in root.glob("stage-*") if root.is_dir() else ():
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def runtime_from(settings: Settings, gallery: GalleryRef | None = None) -> Runtime:
    return Runtime(settings=settings, storage=make_storage(settings), gallery=gallery)


@lru_cache(maxsize=1)
def worker_runtime() -> Runtime:
    """The runtime of a Celery worker process, built once from the environment."""
    return runtime_from(load_settings())
