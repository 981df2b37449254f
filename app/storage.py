"""Artifact storage: S3 through boto3 in production, a local folder on the embedded default.

Keys are relative to the configured prefix and follow one scheme:
``tenants/{tenant_id}/jobs/{job_id}/{name}`` for everything a job produces.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from app.config import Settings


def job_key(tenant_id: uuid.UUID | str, job_id: uuid.UUID | str, name: str) -> str:
    return f"tenants/{tenant_id}/jobs/{job_id}/{name}"


class StorageError(Exception):
    """Storage could not be reached or refused an operation."""


class Storage(Protocol):
    def put_file(self, key: str, path: Path, content_type: str) -> int: ...
    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def head_bytes(self, key: str, n: int) -> bytes: ...
    def url_for(self, key: str, expires: int) -> str | None: ...
    def open(self, key: str) -> IO[bytes]: ...
    def delete(self, key: str) -> None: ...
    def check(self) -> None: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...
    def list_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]: ...


@dataclass(frozen=True)
class LocalStorage:
    """Objects as files under ``root``; the API streams them itself (no presigned URLs)."""

    root: Path

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"key escapes the storage root: {key}")
        return path

    def put_file(self, key: str, path: Path, content_type: str) -> int:
        with path.open("rb") as fh:
            return self.put_stream(key, fh, content_type)

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        with partial.open("wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        partial.replace(target)  # atomic: a reader never sees half an object
        return target.stat().st_size

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise FileNotFoundError(key)
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def head_bytes(self, key: str, n: int) -> bytes:
        with self._path(key).open("rb") as fh:
            return fh.read(n)

    def url_for(self, key: str, expires: int) -> str | None:
        return None

    def open(self, key: str) -> IO[bytes]:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise StorageError(f"{self.root} is not a folder")

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every object key starting with ``prefix``, in key order."""
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return
        root = self.root.resolve()
        files = (p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".part"))
        yield from sorted(
            k for p in files if (k := p.relative_to(root).as_posix()).startswith(prefix)
        )

    def list_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Every object (and unfinished ``.part`` write) under ``prefix``, with its mtime."""
        base = self._path(prefix) if prefix else self.root.resolve()
        root = self.root.resolve()
        for path in base.rglob("*") if base.is_dir() else ():
            if path.is_file():
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield path.relative_to(root).as_posix(), modified


class S3Storage:
    """Objects in ``bucket`` under ``prefix``; downloads are handed out as presigned URLs."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None,
        region: str,
        public_endpoint_url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            signature_version="s3v4",
        )
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region, config=config
        )
        # Presigning is local computation: a client for the public address signs links
        # that work from outside while traffic from the workers stays internal.
        self.signer = (
            self.client
            if not public_endpoint_url
            else boto3.client(
                "s3", endpoint_url=public_endpoint_url, region_name=region, config=config
            )
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path, content_type: str) -> int:
        self.client.upload_file(
            str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
        )
        return path.stat().st_size

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int:
        self.client.upload_fileobj(
            stream, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
        )
        return self.size(key) or 0

    def get_file(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise FileNotFoundError(key) from exc
            raise

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def head_bytes(self, key: str, n: int) -> bytes:
        body = self.client.get_object(
            Bucket=self.bucket, Key=self._key(key), Range=f"bytes=0-{n - 1}"
        )
        return bytes(body["Body"].read())

    def url_for(self, key: str, expires: int) -> str | None:
        return str(
            self.signer.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=expires,
            )
        )

    def open(self, key: str) -> IO[bytes]:
        body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every object key starting with ``prefix``, in key order, a page at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        strip = len(self._key(""))
        for page in pages:
            for obj in page.get("Contents", []):
                yield str(obj["Key"])[strip:]

    def list_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Every object under ``prefix``, page by page, with its last-modified time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:], obj["LastModified"]


def make_storage(settings: Settings) -> Storage:
    return _make_storage(
        settings.storage_url,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_public_endpoint_url,
    )


@lru_cache(maxsize=8)
def _make_storage(storage_url: str, endpoint_url: str, region: str, public_url: str) -> Storage:
    parsed = urlparse(storage_url)
    if parsed.scheme == "file":
        return LocalStorage(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, endpoint_url, region, public_url or None)
    raise ValueError(
        f"SOUNDSCAPE_STORAGE_URL must be s3://bucket/prefix or file:///path, got {storage_url!r}"
    )
