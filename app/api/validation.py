"""Checks on what a client sends with a job, made before anything is stored: every value
must be plain JSON, fit its column and be storable in PostgreSQL (no NUL characters).
"""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from app.errors import InvalidRequestError, TooManyFilesError

# Job.webhook_url is a String(2048) column.
MAX_URL_CHARS = 2048
MAX_FILENAME_CHARS = 255
# Client metadata is a label, not a document: a few levels, a few kilobytes.
MAX_METADATA_DEPTH = 32
MAX_METADATA_BYTES = 64 * 1024


def _reject_constant(name: str) -> Any:
    raise InvalidRequestError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def parse_json(raw: str | bytes, what: str) -> Any:
    """Strict JSON: NaN, Infinity and nesting beyond the parser's reach are 400s, not 500s."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidRequestError(f"{what} is nested too deeply") from None
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{what} is not UTF-8 text") from None
    except ValueError as exc:
        raise InvalidRequestError(f"{what} is not valid JSON ({exc})") from None


def check_text(value: str, field: str, max_chars: int | None = None) -> str:
    """A string PostgreSQL can store: no NUL, no lone surrogate, at most ``max_chars``."""
    if "\x00" in value:
        raise InvalidRequestError(f"{field} contains a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(f"{field} contains an unpaired UTF-16 surrogate") from None
    if max_chars is not None and len(value) > max_chars:
        raise InvalidRequestError(
            f"{field} is {len(value)} characters long; the limit is {max_chars}"
        )
    return value


def check_metadata(value: Any) -> dict[str, Any] | None:
    """Client metadata: a JSON object of plain values, finite numbers, storable strings."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("metadata must be a JSON object")
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:  # iterative: depth is what is being checked
        item, depth = pending.pop()
        if depth > MAX_METADATA_DEPTH:
            raise InvalidRequestError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
        if isinstance(item, dict):
            for key, inner in item.items():
                check_text(str(key), "a metadata key")
                pending.append((inner, depth + 1))
        elif isinstance(item, list):
            pending.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            check_text(item, "a metadata value")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidRequestError("metadata numbers must be finite (no NaN or Infinity)")
    size = len(json.dumps(value).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidRequestError(
            f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}"
        )
    return value


def check_filename(name: str) -> str:
    """An upload's name as the client sent it; shown back, never used as a path."""
    check_text(name, "the file name", MAX_FILENAME_CHARS)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        raise InvalidRequestError("the file name contains a control character")
    return name


def check_one_file(files: MultiDict[str, FileStorage]) -> FileStorage | None:
    """The ``file`` part of a multipart body (None without one). A second file part, of any
    name, is refused rather than ignored: the client would think both were taken."""
    parts = [name for name, _ in files.items(multi=True)]
    if len(parts) > 1:
        raise TooManyFilesError(
            f"only one file part is accepted, named 'file'; this request has {len(parts)} "
            f"({', '.join(repr(name) for name in parts)}): send one request per file"
        )
    return files.get("file")
