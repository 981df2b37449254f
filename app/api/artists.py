"""/v1/artists: a tenant's gallery of artists and the reference recordings of their voices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from app.api import context as ctx
from app.api.jobs import _multipart, _parse_source
from app.api.validation import check_filename, check_one_file, parse_json
from app.errors import InvalidRequestError
from app.jobsource import JobSource
from app.serializers import artist_to_dict, reference_to_dict
from app.services import artists as service
from app.services.enrolment import artist_quality
from app.tables import Artist, ArtistReference, Job

bp = Blueprint("artists", __name__, url_prefix="/v1/artists")


@bp.post("")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    tenant = ctx.tenant_id()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("send a JSON object with a 'name' (and optional 'external_id')")
    artist = service.create_artist(ctx.db(), tenant, body.get("name"), body.get("external_id"))
    return artist_to_dict(artist, 0, 0), 201, {"Location": f"/v1/artists/{artist.id}"}


@bp.get("")
def index() -> dict[str, Any]:
    tenant = ctx.tenant_id()
    limit = ctx.int_arg("limit", 20)
    views, cursor = service.list_artists(ctx.db(), tenant, limit, request.args.get("cursor"))
    return {
        "data": [artist_to_dict(v.artist, v.references, v.pending) for v in views],
        "next_cursor": cursor,
    }


@bp.get("/<artist_id>")
def show(artist_id: str) -> dict[str, Any]:
    artist = service.get_artist(ctx.db(), ctx.tenant_id(), artist_id)
    return _render(artist)


@bp.delete("/<artist_id>")
def remove(artist_id: str) -> tuple[str, int]:
    artist = service.get_artist(ctx.db(), ctx.tenant_id(), artist_id)
    service.delete_artist(ctx.db(), ctx.storage(), artist)
    return "", 204


@bp.post("/<artist_id>/references")
def add_reference(artist_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    # A reference runs as a job: it is a submission, checked and rate-limited as one.
    artist = service.get_artist(ctx.db(), ctx.submitting_tenant_id(), artist_id)
    if request.mimetype == "multipart/form-data":
        upload = check_one_file(_multipart()[0])
        if upload is None:
            raise InvalidRequestError("multipart requests need a 'file' part")
        source = JobSource.upload(check_filename(upload.filename or "upload"))
        stream = upload.stream
    else:
        body = parse_json(request.get_data(), "the request body") if request.is_json else None
        if not isinstance(body, dict):
            raise InvalidRequestError("send multipart/form-data with a 'file', or a JSON object")
        source, stream = _parse_source(body.get("source")), None
    reference, job = service.add_reference(
        ctx.db(), ctx.settings(), ctx.storage(), artist, source, stream
    )
    location = f"/v1/artists/{artist.id}/references/{reference.id}"
    return _reference(artist, reference, job), 202, {"Location": location}


@bp.get("/<artist_id>/references/<reference_id>")
def show_reference(artist_id: str, reference_id: str) -> dict[str, Any]:
    session = ctx.db()
    artist = service.get_artist(session, ctx.tenant_id(), artist_id)
    reference = service.get_reference(session, artist, reference_id)
    return _reference(artist, reference, service.reference_job(session, reference))


@bp.delete("/<artist_id>/references/<reference_id>")
def remove_reference(artist_id: str, reference_id: str) -> tuple[str, int]:
    session = ctx.db()
    artist = service.get_artist(session, ctx.tenant_id(), artist_id)
    reference = service.get_reference(session, artist, reference_id)
    service.delete_reference(session, ctx.storage(), reference)
    return "", 204


def _render(artist: Artist) -> dict[str, Any]:
    session = ctx.db()
    view = service.view(session, artist)
    detail = [reference_to_dict(ref, job) for ref, job in service.references(session, artist)]
    body = artist_to_dict(artist, view.references, view.pending, detail)
    return {**body, "quality": artist_quality(session, artist).to_json()}


def _reference(artist: Artist, reference: ArtistReference, job: Job | None) -> dict[str, Any]:
    """A reference with its artist's enrolment quality as it stands (this reference counts
    once it is ready): what a client enrolling it sees."""
    quality = artist_quality(ctx.db(), artist).to_json()
    return {**reference_to_dict(reference, job), "quality": quality}
