"""Request-scoped helpers: settings, the database session, storage and the caller's tenant."""

from __future__ import annotations

import uuid

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import get_sessionmaker
from app.errors import UnauthorizedError
from app.hashing import hash_key
from app.models import ApiKey
from app.ratelimit import count_submission
from app.storage import Storage, make_storage


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


def api_key() -> ApiKey:
    """The request's `Authorization: Bearer <key>`, looked up on every request (a revoked
    key is refused at once); 401 without a valid key."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UnauthorizedError("send an API key as 'Authorization: Bearer <key>'")
    row = db().scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key.strip()), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        raise UnauthorizedError("the API key is not valid")
    return row


def tenant_id() -> uuid.UUID:
    """The tenant of the request's API key; 401 without a valid key."""
    return api_key().tenant_id


def submitting_tenant_id() -> uuid.UUID:
    """``tenant_id`` for a submission, counted against the key's rate limit (429 past it)."""
    key = api_key()
    count_submission(db(), settings(), key.id)
    return key.tenant_id
