"""Tenants and their API keys: creating a tenant, issuing, listing and revoking keys (a key is
shown once and stored hashed), and the secret that signs a tenant's webhooks."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.hashing import hash_key
from app.tables import ApiKey, Tenant, utcnow


def find_tenant(session: Session, name: str) -> uuid.UUID | None:
    return session.scalar(select(Tenant.id).where(Tenant.name == name))


def create_tenant(session: Session, name: str) -> uuid.UUID:
    """A new tenant named ``name`` (the caller commits)."""
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    return tenant.id


def ensure_tenant(session: Session, name: str) -> uuid.UUID:
    """The tenant named ``name``, created when it is new (the caller commits)."""
    found = find_tenant(session, name)
    return found if found is not None else create_tenant(session, name)


def create_key(database_url: str, tenant_name: str) -> str:
    """A new API key of tenant ``tenant_name`` (created if it is new); the key itself is
    returned once and only its hash is kept."""
    key = "ss_" + secrets.token_urlsafe(32)
    with session_scope(database_url) as session:
        tenant_id = ensure_tenant(session, tenant_name)
        session.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:10]))
    return key


def list_keys(database_url: str, tenant_name: str | None) -> list[str]:
    """One line per key, oldest first: prefix, tenant, created, and revoked or active."""
    query = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_name is not None:
        query = query.where(Tenant.name == tenant_name)
    with session_scope(database_url) as session:
        rows = session.execute(query.order_by(ApiKey.created_at)).all()
        return [
            f"{key.prefix}  {name}  created {key.created_at:%Y-%m-%d %H:%M:%S}  "
            + (f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else "active")
            for key, name in rows
        ]


def revoke_key(database_url: str, key_or_prefix: str) -> str:
    """Revoke one key, named by itself or by its unique prefix; returns its prefix."""
    with session_scope(database_url) as session:
        match = session.scalars(
            select(ApiKey).where(
                (ApiKey.key_hash == hash_key(key_or_prefix)) | (ApiKey.prefix == key_or_prefix)
            )
        ).all()
        if not match:
            raise LookupError(f"no API key {key_or_prefix!r}")
        if len(match) > 1:
            raise LookupError(f"{key_or_prefix!r} names {len(match)} keys; give the whole key")
        (key,) = match
        key.revoked_at = key.revoked_at or utcnow()
        return key.prefix


def webhook_secret(database_url: str, tenant_name: str) -> str:
    with session_scope(database_url) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise LookupError(f"no tenant named {tenant_name!r}")
        return tenant.webhook_secret
