"""SoundScape API: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app.config import Settings, load_settings


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the API. ``settings`` defaults to the SOUNDSCAPE_* environment."""
    from app.api import register_api

    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    # Werkzeug enforces this while reading the body, so an oversized upload is refused
    # with 413 before it is stored; 1 MiB leaves room for the multipart envelope.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + (1 << 20)
    # Werkzeug spools file parts above 500 KB to a temporary file, never to memory; this
    # caps the non-file form fields (metadata, webhook_url).
    app.config["MAX_FORM_MEMORY_SIZE"] = 1 << 20
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=settings.log_level)
    register_api(app)
    return app
