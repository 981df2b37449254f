"""Per-API-key submission rate limit: fixed windows counted on the key's own row, so every
API process (and the embedded default's SQLite) shares one count with no extra server."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import RateLimitedError
from app.tables import ApiKey, utcnow


def count_submission(session: Session, settings: Settings, key_id: uuid.UUID) -> None:
    """Count one submission for the key; RateLimitedError (429) past the window's limit.

    Windows are aligned to multiples of ``rate_limit_window_seconds``; the count is one
    atomic UPDATE, so concurrent requests never lose an increment.
    """
    limit, window = settings.rate_limit_submissions, settings.rate_limit_window_seconds
    if limit <= 0:
        return
    now = utcnow()
    start = datetime.fromtimestamp(int(now.timestamp()) // window * window, UTC)
    count = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(
            window_count=case((ApiKey.window_start == start, ApiKey.window_count + 1), else_=1),
            window_start=start,
        )
        .returning(ApiKey.window_count)
    ).scalar_one()
    session.commit()
    if count > limit:
        retry_after = max(1, math.ceil(start.timestamp() + window - now.timestamp()))
        raise RateLimitedError(
            f"more than {limit} submissions in {window} s for this API key; "
            f"retry after {retry_after} s",
            retry_after,
        )
