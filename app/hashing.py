"""sha256 of files, streams (read in 1 MiB chunks) and API keys."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO


def sha256_stream(stream: IO[bytes]) -> str:
    """Digest of a seekable stream from its start; the stream is left at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return sha256_stream(fh)


def hash_key(key: str) -> str:
    """How an API key is stored and looked up: its sha256, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()
