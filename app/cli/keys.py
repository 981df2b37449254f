"""``soundscape keys create|webhook-secret --tenant NAME``: API keys (printed once, stored
hashed) and the secret that signs the tenant's webhooks."""

from __future__ import annotations

import argparse
import secrets

from sqlalchemy import select

from app.config import load_settings
from app.db import session_scope
from app.hashing import hash_key
from app.models import ApiKey, Tenant


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key (and the tenant if it is new)")
    create.add_argument("--tenant", required=True, help="tenant name")
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


def webhook_secret(database_url: str, tenant_name: str) -> str:
    with session_scope(database_url) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise LookupError(f"no tenant named {tenant_name!r}")
        return tenant.webhook_secret


def run(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    print(
        create_key(url, args.tenant)
        if args.action == "create"
        else webhook_secret(url, args.tenant)
    )
    return 0
