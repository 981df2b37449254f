"""The OpenAPI description of /v1/artists, merged into /openapi.json by app.api.openapi."""

from __future__ import annotations

from typing import Any

from app.api.openapi_parts import CURSOR, PAGE_LIMIT, errors, page, upload_form

_ARTIST = {"application/json": {"schema": {"$ref": "#/components/schemas/Artist"}}}
_REFERENCE = {"application/json": {"schema": {"$ref": "#/components/schemas/ArtistReference"}}}
_UUID = {"type": "string", "format": "uuid"}
_ARTIST_ID = {"name": "artist_id", "in": "path", "required": True, "schema": _UUID}
_SOURCE = {"$ref": "#/components/schemas/RemoteSubmission/properties/source"}
_REFERENCE_ID = {"name": "reference_id", "in": "path", "required": True, "schema": _UUID}


PATHS: dict[str, Any] = {
    "/v1/artists": {
        "post": {
            "summary": "Add an artist to the tenant's gallery",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string", "maxLength": 200},
                                "external_id": {"type": "string", "maxLength": 200},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {"description": "Created; Location names it", "content": _ARTIST},
                **errors(400, 401, 409),
            },
        },
        "get": {
            "summary": "List artists by name, with their reference counts",
            "parameters": [
                PAGE_LIMIT,
                CURSOR,
            ],
            "responses": {
                "200": {"description": "A page of artists", "content": page("Artist")},
                **errors(400, 401),
            },
        },
    },
    "/v1/artists/{artist_id}": {
        "get": {
            "summary": "An artist and its references",
            "parameters": [_ARTIST_ID],
            "responses": {
                "200": {"description": "The artist", "content": _ARTIST},
                **errors(401, 404),
            },
        },
        "delete": {
            "summary": "Remove an artist, its references and their stored audio",
            "parameters": [_ARTIST_ID],
            "responses": {"204": {"description": "Removed"}, **errors(401, 404)},
        },
    },
    "/v1/artists/{artist_id}/references": {
        "post": {
            "summary": "Enrol a reference recording (runs as a job: ingest, separate, enroll)",
            "parameters": [_ARTIST_ID],
            "requestBody": {
                "required": True,
                "content": {
                    **upload_form(),
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["source"],
                            "properties": {"source": _SOURCE},
                        }
                    },
                },
            },
            "responses": {
                "202": {"description": "Queued; Location names it", "content": _REFERENCE},
                **errors(400, 401, 404, 409, 413, 415, 429, 503),
            },
        }
    },
    "/v1/artists/{artist_id}/references/{reference_id}": {
        "get": {
            "summary": "A reference and the state of its enrolment",
            "parameters": [_ARTIST_ID, _REFERENCE_ID],
            "responses": {
                "200": {"description": "The reference", "content": _REFERENCE},
                **errors(401, 404),
            },
        },
        "delete": {
            "summary": "Remove a reference; the artist's voiceprint is recomputed",
            "parameters": [_ARTIST_ID, _REFERENCE_ID],
            "responses": {"204": {"description": "Removed"}, **errors(401, 404)},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Artist": {
        "type": "object",
        "properties": {
            "id": _UUID,
            "name": {"type": "string"},
            "external_id": {"type": ["string", "null"]},
            "reference_count": {"type": "integer", "description": "enrolled references"},
            "pending_references": {"type": "integer", "description": "not enrolled (yet)"},
            "enrolled": {"type": "boolean", "description": "has a voiceprint to match"},
            "references": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ArtistReference"},
                "description": "on GET of one artist only",
            },
            "quality": {
                "$ref": "#/components/schemas/EnrolmentQuality",
                "description": "on GET of one artist only",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "ArtistReference": {
        "type": "object",
        "properties": {
            "id": _UUID,
            "artist_id": _UUID,
            "status": {"enum": ["pending", "ready", "failed"]},
            "source": {"type": ["object", "null"]},
            "sha256": {"type": ["string", "null"]},
            "vocal_seconds": {"type": ["number", "null"]},
            "job_id": {"type": ["string", "null"], "format": "uuid"},
            "error": {"oneOf": [{"$ref": "#/components/schemas/Problem"}, {"type": "null"}]},
            "quality": {
                "$ref": "#/components/schemas/EnrolmentQuality",
                "description": "the artist's, with the references ready now",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "EnrolmentQuality": {
        "type": "object",
        "description": "whether the artist's ready references hold enough voice and agree "
        "on one voice (README, Artists: enrolment quality)",
        "properties": {
            "status": {"enum": ["ok", "warning"]},
            "references": {"type": "integer", "description": "ready references"},
            "vocal_seconds": {"type": "number", "description": "seconds of voice in all"},
            "min_vocal_seconds": {"type": "number"},
            "reference_min_vocal_seconds": {"type": "number"},
            "pair_threshold": {"type": "number"},
            "outlier_threshold": {"type": "number"},
            "lowest_agreement": {
                "type": ["object", "null"],
                "description": "the least similar pair: reference_ids, similarity",
            },
            "per_reference": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "reference_id": _UUID,
                        "vocal_seconds": {"type": "number"},
                        "similarity_to_others": {"type": ["number", "null"]},
                    },
                },
            },
            "warnings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "enum": [
                                "no_references",
                                "too_little_vocals",
                                "reference_too_little_vocals",
                                "single_reference",
                                "references_disagree",
                                "reference_outlier",
                            ]
                        },
                        "message": {"type": "string"},
                    },
                    "additionalProperties": True,
                },
            },
        },
    },
}
