"""The web console at ``/``: paste an API key, upload tracks, watch jobs, open reports.

Plain server-rendered HTML with a little JavaScript (no build step). The page calls the JSON
API with the key as a Bearer token; ``POST /console/session`` also stores the key in an
HttpOnly, SameSite=Strict cookie so that report pages and audio links opened from the
console are authorised (only those GET endpoints accept the cookie).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from app.api import context as ctx

bp = Blueprint("console", __name__)

# A console session lasts a working day; the key itself never expires by this.
COOKIE_MAX_AGE_SECONDS = 12 * 3600


@bp.get("/")
def console() -> tuple[str, int, dict[str, str]]:
    from app.api.reportpage import render_console

    return render_console(), 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.post("/console/session")
def start_session() -> Response:
    """Check the Bearer key and set the console cookie (204)."""
    ctx.tenant_id()
    key = request.headers["Authorization"].partition(" ")[2].strip()
    response = Response(status=204)
    response.set_cookie(
        ctx.CONSOLE_COOKIE,
        key,
        max_age=COOKIE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path="/v1/jobs/",
    )
    return response


@bp.post("/console/logout")
def end_session() -> Response:
    response = Response(status=204)
    response.delete_cookie(ctx.CONSOLE_COOKIE, path="/v1/jobs/")
    return response
