"""Batch items from a JSON list or a CSV/JSONL manifest, read as a stream and checked one
line at a time: a bad line becomes a failed item carrying its own error, never a failed batch.

A CSV manifest has a header naming ``custom_id`` and one of ``url`` / ``s3_key`` per row,
optionally ``metadata`` (a JSON object); any other column is copied into the item's metadata
as text (``isrc``, ``title``, ...). One item per line: quoted fields may not span lines.
A JSONL manifest has one item object per line, as in the JSON body.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from app.errors import InvalidItemError, InvalidRequestError, Problem
from app.outbound import check_url_form

# A manifest line longer than this is refused (the rest of the line is skipped unread).
MAX_LINE_BYTES = 64 * 1024
MAX_CUSTOM_ID = 255
MAX_URL = 2048
CSV_FIELDS = ("custom_id", "url", "s3_key", "metadata")
FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class ItemSpec:
    """One item as submitted: a checked ``source`` (``JobSource`` JSON) or an ``error``
    (a problem object) that fails the item at once."""

    custom_id: str | None
    source: dict[str, Any] | None
    metadata: dict[str, Any] | None
    error: dict[str, Any] | None = None
    sha256: str | None = None
    where: str = ""  # "line 7", "items[3]": named in errors

    @classmethod
    def failed(cls, custom_id: str | None, problem: Problem, where: str) -> ItemSpec:
        body = problem.problem()
        body["detail"] = f"{where}: {body['detail']}"
        return cls(custom_id, None, None, body, where=where)


def guess_format(declared: str | None, filename: str | None, head: bytes) -> str:
    """``csv`` or ``jsonl``: as declared, else by the file name, else by the first byte."""
    if declared:
        if declared not in FORMATS:
            raise InvalidRequestError(f"format must be one of {', '.join(FORMATS)}")
        return declared
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def check_item(raw: Any, tenant_id: uuid.UUID, allow_private: bool, where: str) -> ItemSpec:
    """Validate one item object ``{"custom_id", "source": {"url" | "s3_key"}, "metadata"}``.

    Only what can be told without a network call is checked here; a URL's address is
    checked again when it is fetched, an object's content when it is ingested.
    """
    custom_id = raw.get("custom_id") if isinstance(raw, dict) else None
    shown = custom_id if isinstance(custom_id, str) and custom_id else None
    try:
        if not isinstance(raw, dict):
            raise InvalidItemError("an item must be a JSON object")
        if not shown or len(shown) > MAX_CUSTOM_ID:
            raise InvalidItemError(f"custom_id must be a string of 1 to {MAX_CUSTOM_ID} chars")
        metadata = raw.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidItemError("metadata must be a JSON object")
        source = check_source(raw.get("source"), tenant_id, allow_private)
    except Problem as exc:
        return ItemSpec.failed(shown if shown and len(shown) <= MAX_CUSTOM_ID else None, exc, where)
    return ItemSpec(shown, source, metadata, where=where)


def check_source(source: Any, tenant_id: uuid.UUID, allow_private: bool) -> dict[str, Any]:
    if not isinstance(source, dict) or len(source) != 1:
        raise InvalidItemError("source must be an object with exactly one of 'url' or 's3_key'")
    ((kind, value),) = source.items()
    if kind not in ("url", "s3_key") or not isinstance(value, str) or not value:
        raise InvalidItemError("source must be {'url': '...'} or {'s3_key': '...'}")
    if kind == "url":
        check_url(value, allow_private)
        return {"kind": "url", "url": value}
    if not value.startswith(f"tenants/{tenant_id}/") or ".." in value.split("/"):
        raise InvalidItemError(f"s3_key {value} is not under this tenant's tenants/{tenant_id}/")
    return {"kind": "s3_key", "s3_key": value}


def check_url(url: str, allow_private: bool) -> None:
    """An absolute http(s) URL whose host, when written as an address, is public: the
    single-job rule (``app.outbound.check_url_form``) without the DNS lookup, which the
    worker makes (and checks again) when it connects."""
    if len(url) > MAX_URL:
        raise InvalidItemError(f"source.url must be an absolute http(s) URL of <= {MAX_URL} chars")
    try:
        check_url_form(url, allow_private)
    except InvalidRequestError as exc:
        raise InvalidItemError(exc.detail) from None


def read_manifest(
    stream: IO[bytes], fmt: str, tenant_id: uuid.UUID, allow_private: bool
) -> Iterator[ItemSpec]:
    """The items of a manifest, one per non-blank line, in order."""
    lines = _lines(stream)
    if fmt == "jsonl":
        for number, line in lines:
            yield _jsonl_item(number, line, tenant_id, allow_private)
        return
    header = _csv_header(lines)
    for number, line in lines:
        yield _csv_item(header, number, line, tenant_id, allow_private)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for each non-blank line; text is None for a line that is not
    UTF-8 or is too long (read past, never held in memory whole)."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark, as Excel writes
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        if text.strip():
            yield number, text.rstrip("\r\n")


def _unreadable(number: int) -> ItemSpec:
    problem = InvalidItemError(f"not UTF-8 text, or longer than {MAX_LINE_BYTES} bytes")
    return ItemSpec.failed(None, problem, f"line {number}")


def _jsonl_item(
    number: int, line: str | None, tenant_id: uuid.UUID, allow_private: bool
) -> ItemSpec:
    if line is None:
        return _unreadable(number)
    try:
        raw = json.loads(line)
    except ValueError as exc:
        return ItemSpec.failed(None, InvalidItemError(f"not JSON ({exc})"), f"line {number}")
    return check_item(raw, tenant_id, allow_private, f"line {number}")


def _csv_header(lines: Iterator[tuple[int, str | None]]) -> list[str]:
    first = next(lines, None)
    if first is None:
        raise InvalidRequestError("the manifest is empty")
    number, line = first
    header = [name.strip() for name in next(csv.reader([line]))] if line else []
    if "custom_id" not in header or not {"url", "s3_key"} & set(header):
        raise InvalidRequestError(
            f"line {number}: a CSV manifest needs a header naming custom_id and url or s3_key"
        )
    return header


def _csv_item(
    header: list[str], number: int, line: str | None, tenant_id: uuid.UUID, allow_private: bool
) -> ItemSpec:
    where = f"line {number}"
    if line is None:
        return _unreadable(number)
    try:
        cells = next(csv.reader([line], strict=True))
    except csv.Error as exc:
        return ItemSpec.failed(None, InvalidItemError(f"not CSV ({exc})"), where)
    if len(cells) != len(header):
        problem = InvalidItemError(f"{len(cells)} fields where the header has {len(header)}")
        return ItemSpec.failed(None, problem, where)
    row = dict(zip(header, cells, strict=True))
    custom_id = row.get("custom_id") or None
    try:
        metadata = json.loads(row["metadata"]) if row.get("metadata") else {}
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        problem = InvalidItemError("metadata must be a JSON object")
        return ItemSpec.failed(custom_id if custom_id else None, problem, where)
    extra = {k: v for k, v in row.items() if k not in CSV_FIELDS and k and v}
    sources = {k: row[k] for k in ("url", "s3_key") if row.get(k)}
    item = {"custom_id": custom_id, "source": sources, "metadata": {**extra, **metadata} or None}
    return check_item(item, tenant_id, allow_private, where)
