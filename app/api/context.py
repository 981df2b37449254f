"""Request-scoped helpers: settings, the database session, storage and the caller's tenant."""

from __future__ import annotations

import uuid

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.ratelimit import count_submission
from app.config import Settings
from app.db import get_sessionmaker
from app.errors import InvalidRequestError, UnauthorizedError
from app.hashing import hash_key
from app.storage import Storage, make_storage
from app.tables import ApiKey


def settings() -> Settings:
    configured: Settings = current_app.config["SETTINGS"]
    return configured


def db() -> Session:
    if "db_session" not in g:
        g.db_session = get_sessionmaker(settings().database_url)()
    session: Session = g.db_session
    return session


def storage() -> Storage:
    return make_storage(settings())


# The web console's cookie: the API key, HttpOnly and SameSite=Strict, honoured only by the
# pages a browser opens itself (a job's report and its artifacts), never by a change of state.
CONSOLE_COOKIE = "soundscape_key"


def api_key(allow_cookie: bool = False) -> ApiKey:
    """The request's `Authorization: Bearer <key>` (or, with ``allow_cookie`` and no such
    header, the console's cookie), looked up on every request (a revoked key is refused at
    once); 401 without a valid key."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if not header and allow_cookie and request.method in ("GET", "HEAD"):
        scheme, key = "bearer", request.cookies.get(CONSOLE_COOKIE, "")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError("send an API key as 'Authorization: Bearer <key>'")
    row = db().scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key.strip()), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        raise UnauthorizedError("the API key is not valid")
    return row


def tenant_id(allow_cookie: bool = False) -> uuid.UUID:
    """The tenant of the request's API key (see ``api_key``); 401 without a valid key."""
    return api_key(allow_cookie).tenant_id


def submitting_tenant_id() -> uuid.UUID:
    """``tenant_id`` for a submission, counted against the key's rate limit (429 past it)."""
    key = api_key()
    count_submission(db(), settings(), key.id)
    return key.tenant_id


def int_arg(name: str, default: int) -> int:
    """The integer query parameter ``name`` (``default`` when absent); 400 when not an integer."""
    try:
        return int(request.args.get(name, str(default)))
    except ValueError:
        raise InvalidRequestError(f"{name} must be an integer") from None
