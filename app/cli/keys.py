"""``soundscape keys create|list|revoke|webhook-secret``: API keys (printed once, stored
hashed), their rotation, and the secret that signs the tenant's webhooks."""

from __future__ import annotations

import argparse
import secrets

from sqlalchemy import select

from app.config import load_settings
from app.db import session_scope
from app.hashing import hash_key
from app.tables import ApiKey, Tenant, utcnow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key (and the tenant if it is new)")
    create.add_argument("--tenant", required=True, help="tenant name")
    listing = sub.add_parser("list", help="list keys by prefix: tenant, created, revoked")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = sub.add_parser("revoke", help="revoke a key: refused (401) from the next request")
    revoke.add_argument("key", help="the key itself, or its prefix as `keys list` shows it")
    secret = sub.add_parser(
        "webhook-secret", help="print the secret that signs a tenant's webhooks"
    )
    secret.add_argument("--tenant", required=True, help="tenant name")


def create_key(database_url: str, tenant_name: str) -> str:
    key = "ss_" + secrets.token_urlsafe(32)
    with session_scope(database_url) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            tenant = Tenant(name=tenant_name)
            session.add(tenant)
            session.flush()
        session.add(ApiKey(tenant_id=tenant.id, key_hash=hash_key(key), prefix=key[:10]))
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


def run(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    if args.action == "create":
        print(create_key(url, args.tenant))
    elif args.action == "list":
        for line in list_keys(url, args.tenant):
            print(line)
    elif args.action == "revoke":
        print(f"revoked {revoke_key(url, args.key)}")
    else:
        print(webhook_secret(url, args.tenant))
    return 0
