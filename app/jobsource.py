"""What a job analyses: an upload, a URL or an object in storage, as stored in ``Job.source``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SourceKind = Literal["upload", "url", "s3_key"]


@dataclass(frozen=True)
class JobSource:
    """One of: an upload (``filename``, and ``key`` once stored), a ``url``, or a client's
    object in storage (``key``). ``key`` is always where the bytes are in storage."""

    kind: SourceKind
    filename: str | None = None
    url: str | None = None
    key: str | None = None

    @classmethod
    def upload(cls, filename: str, key: str | None = None) -> JobSource:
        return cls("upload", filename=filename, key=key)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JobSource:
        kind = raw["kind"]
        if kind == "upload":
            return cls("upload", filename=raw.get("filename"), key=raw.get("key"))
        if kind == "url":
            return cls("url", url=raw["url"])
        if kind == "s3_key":
            return cls("s3_key", key=raw["s3_key"])
        raise ValueError(f"unknown job source kind {kind!r}")

    def to_json(self) -> dict[str, Any]:
        """The stored form (the column's JSON shape, unchanged since the first migration)."""
        if self.kind == "upload":
            stored = {"key": self.key} if self.key else {}
            return {"kind": "upload", "filename": self.filename, **stored}
        if self.kind == "url":
            return {"kind": "url", "url": self.url}
        return {"kind": "s3_key", "s3_key": self.key}

    def public(self) -> dict[str, Any]:
        """What clients see: an upload's internal storage key is left out."""
        shown = self.to_json()
        if self.kind == "upload":
            shown.pop("key", None)
        return shown
