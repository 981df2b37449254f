"""Pieces every part of /openapi.json shares: problem responses, cursor pages, upload forms."""

from __future__ import annotations

from typing import Any

PROBLEM_RESPONSE = {
    "description": "Problem",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
CURSOR = {"name": "cursor", "in": "query", "schema": {"type": "string"}}
PAGE_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
}


def errors(*codes: int) -> dict[str, Any]:
    """The problem responses of ``codes``."""
    return {str(code): PROBLEM_RESPONSE for code in codes}


def page(ref: str) -> dict[str, Any]:
    """Content of a cursor page of ``#/components/schemas/<ref>`` objects."""
    schema = {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    return {"application/json": {"schema": schema}}


def upload_form(**fields: dict[str, Any]) -> dict[str, Any]:
    """The multipart/form-data content of an upload: a required binary ``file`` and ``fields``."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {"multipart/form-data": {"schema": schema}}
