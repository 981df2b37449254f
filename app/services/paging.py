"""The one cursor pager of the API's lists (jobs, batches, artists): keyset pages in a fixed
order, each continued after an opaque cursor that names the last row of the page before."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import InvalidRequestError

Row = TypeVar("Row")


@dataclass(frozen=True)
class Keyset:
    """A list's order: by ``key`` (a column whose values ``parse`` reads back from the
    cursor's text), then by id, descending or ascending."""

    key: InstrumentedAttribute[Any]
    parse: Callable[[str], Any]
    descending: bool


def check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise InvalidRequestError(f"limit must be between 1 and {most}")


def page(
    session: Session,
    query: Select[Row],
    order: Keyset,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """Up to ``limit`` rows of ``query`` after ``cursor`` in ``order``, and the cursor of the
    next page (None on the last)."""
    entity = order.key.class_
    position = tuple_(order.key, entity.id)
    if cursor:
        after = tuple_(*_decode(cursor, order.parse))
        query = query.where(position < after if order.descending else position > after)
    columns = (order.key.desc(), entity.id.desc()) if order.descending else (order.key, entity.id)
    rows = list(session.scalars(query.order_by(*columns).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode(getattr(rows[-1], order.key.key), rows[-1].id) if more else None)  # type: ignore[attr-defined]


def _encode(key: Any, row_id: uuid.UUID) -> str:
    text = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([text, str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, parse: Callable[[str], Any]) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
        return parse(key), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError("cursor is not one this API returned") from exc
