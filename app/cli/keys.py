"""``soundscape keys create|list|revoke|webhook-secret``: API keys (printed once, stored
hashed), their rotation, and the secret that signs the tenant's webhooks."""

from __future__ import annotations

import argparse

from app.config import load_settings
from app.services.tenants import create_key, list_keys, revoke_key, webhook_secret


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
