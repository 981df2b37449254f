"""Settings: every SOUNDSCAPE_* environment variable, read once into one frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "SOUNDSCAPE_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path.cwd() / ".soundscape"


@dataclass(frozen=True)
class Settings:
    """Configuration of the API, the workers and the CLI.

    With nothing set this is the embedded default: SQLite, a local artifact folder and a
    filesystem broker under ``data_dir``, so one machine runs everything with no servers.
    """

    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str = ""
    broker_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str = ""
    # Where clients reach S3 when it differs from the workers' address (MinIO in compose).
    s3_public_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    weights_dir: Path | None = None
    device: str = "auto"
    max_upload_bytes: int = 512 * 1024 * 1024
    max_duration_seconds: float = 20 * 60.0
    min_duration_seconds: float = 0.5
    presign_expiry_seconds: int = 3600
    # The address clients reach the API at, for artifact links in webhooks (and in API
    # answers, which otherwise use the address the request came to).
    public_url: str = ""
    # Celery reliability: the visibility timeout must exceed the longest stage's hard limit.
    stage_soft_time_limit: int = 1500
    stage_hard_time_limit: int = 1800
    visibility_timeout: int = 3600
    reaper_interval_seconds: int = 60
    # The stage hand-off (workers/publisher.py): every worker checks this often for stages
    # due but not published (the broker was down) and for stages gone silent.
    dispatch_interval_seconds: float = 10.0
    # A stage running writes a heartbeat this often; silent this long, it is run again.
    heartbeat_interval_seconds: float = 15.0
    heartbeat_timeout_seconds: int = 120
    # A stage published but not started this long is published again (a broker that lost
    # its messages on restart); a duplicate is dropped when it arrives.
    redispatch_after_seconds: int = 900
    # A database or storage outage is retried for this long before the stage fails.
    transient_retry_seconds: int = 300
    # A job queued this long without starting has its start message sent again.
    requeue_after_seconds: int = 300
    # A running job waiting this long between two stages has lost its message: fail it.
    max_queue_wait_seconds: int = 86400
    # Objects under a job's keys with no job row, older than the age, are deleted hourly.
    orphan_sweep_interval_seconds: int = 3600
    orphan_min_age_seconds: int = 3600
    allow_private_urls: bool = False
    url_fetch_timeout: float = 300.0
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 10.0
    webhook_timeout: float = 10.0
    # Download missing weights (checksum verified) when resolving a model; off by default so
    # that nothing is ever fetched in tests or on machines without internet.
    weights_download: bool = False
    separator: str = "htdemucs"
    # Empty: the manifest's default vocal detector / mixture detector.
    detector: str = ""
    # The vocal detector (trained on speech) does not count toward the verdict, so it runs
    # only where a deployment turns it on here or a job asks for it (JobOptions).
    run_vocal_detector: bool = False
    mixture_detector: str = ""
    # Empty: the manifest's default speaker encoder (artist identification).
    speaker_encoder: str = ""
    log_level: str = "INFO"
    # Catalogue scans (app/batchstate.py): items per batch, and how many of one tenant's
    # batch items may be queued or running at once; the rest wait in the database.
    batch_max_items: int = 100_000
    batch_max_in_flight: int = 8
    # How often the beat worker dispatches waiting items and closes finished batches (a
    # safety net: both also happen as soon as an item ends).
    batch_sweep_interval_seconds: int = 30
    # Submissions (jobs, batches, batch uploads) per API key per window; 0 turns it off.
    rate_limit_submissions: int = 3000
    rate_limit_window_seconds: int = 60
    # Localization: hysteresis on the mixture detector's timeline curve, a shortest region
    # and the longest gap merged; measured on partial fakes (README "Where is it synthetic?").
    region_on_threshold: float = 0.75
    region_off_threshold: float = 0.6
    region_min_seconds: float = 3.0
    region_merge_gap_seconds: float = 3.0

    def __post_init__(self) -> None:
        data = Path(self.data_dir)
        object.__setattr__(self, "data_dir", data)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data / 'soundscape.db'}")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", "filesystem://")
        if not self.storage_url:
            object.__setattr__(self, "storage_url", (data / "artifacts").as_uri())
        if self.stage_hard_time_limit <= self.stage_soft_time_limit:
            raise ValueError("SOUNDSCAPE_STAGE_HARD_TIME_LIMIT must exceed the soft limit")
        if not 0.0 <= self.region_off_threshold <= self.region_on_threshold <= 1.0:
            raise ValueError(
                "SOUNDSCAPE_REGION_OFF_THRESHOLD must lie in [0, SOUNDSCAPE_REGION_ON_THRESHOLD]"
                " and the on threshold in [0, 1]"
            )
        if self.heartbeat_timeout_seconds < 3 * self.heartbeat_interval_seconds:
            raise ValueError(
                "SOUNDSCAPE_HEARTBEAT_TIMEOUT_SECONDS must be at least three heartbeat intervals"
            )

    @property
    def embedded(self) -> bool:
        """True when the broker is the local filesystem one (no Redis)."""
        return self.broker_url.startswith("filesystem://")

    @property
    def broker_folder(self) -> Path:
        return self.data_dir / "broker"

    @property
    def worker_alive_file(self) -> Path:
        """Touched by a live worker on the embedded default; stale: the worker died."""
        return self.data_dir / "worker.alive"

    @property
    def stale_job_seconds(self) -> int:
        """A running job silent for this long has lost its worker and is not coming back."""
        return self.visibility_timeout + 2 * self.stage_hard_time_limit


def _coerce(raw: str, annotation: str) -> Any:
    if "bool" in annotation:
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected a boolean, got {raw!r}")
    if annotation == "int":
        return int(raw)
    if annotation == "float":
        return float(raw)
    if "Path" in annotation:
        return Path(raw) if raw else None
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read SOUNDSCAPE_* variables from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        key = PREFIX + f.name.upper()
        if key in env:
            try:
                values[f.name] = _coerce(env[key], str(f.type))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    values.update(overrides)
    return Settings(**values)
