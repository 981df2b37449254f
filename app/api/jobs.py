"""/v1/jobs: submit, poll, list, cancel, and download a job's artifacts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, send_file
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.api import context as ctx
from app.api.reportpage import render_report_page
from app.api.validation import (
    MAX_URL_CHARS,
    check_filename,
    check_metadata,
    check_one_file,
    check_text,
    parse_json,
)
from app.errors import InvalidRequestError, NotFoundError
from app.hashing import sha256_stream
from app.joboptions import deployment_options, parse_options
from app.jobsource import JobSource
from app.links import artifact_links
from app.outbound import check_url_source
from app.queueposition import queue_position
from app.serializers import job_to_dict
from app.services import jobs as service
from app.tables import Artifact, Job

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


@bp.post("")
def submit() -> tuple[dict[str, Any], int, dict[str, str]]:
    tenant = ctx.submitting_tenant_id()
    new, upload = _parse_submission()
    session = ctx.db()
    job = service.find_replay(session, tenant, new)
    if job is None:
        if upload is not None:
            job = service.submit_upload(session, ctx.settings(), ctx.storage(), tenant, new, upload)
        else:
            job = service.submit_remote(session, ctx.settings(), ctx.storage(), tenant, new)
    return _render(job), 202, {"Location": f"/v1/jobs/{job.id}"}


@bp.get("")
def index() -> dict[str, Any]:
    tenant = ctx.tenant_id()
    limit = ctx.int_arg("limit", 20)
    rows, cursor = service.list_jobs(
        ctx.db(), tenant, request.args.get("status"), limit, request.args.get("cursor")
    )
    return {"data": [_render(job) for job in rows], "next_cursor": cursor}


@bp.get("/<job_id>")
def show(job_id: str) -> dict[str, Any]:
    return _render(service.get_job(ctx.db(), ctx.tenant_id(), job_id))


@bp.post("/<job_id>/cancel")
def cancel(job_id: str) -> dict[str, Any]:
    return _render(service.cancel_job(ctx.db(), ctx.settings(), ctx.tenant_id(), job_id))


@bp.get("/<job_id>/artifacts/<name>")
def artifact(job_id: str, name: str) -> WerkzeugResponse:
    job = service.get_job(ctx.db(), ctx.tenant_id(allow_cookie=True), job_id)
    row = _find_artifact(job, name)
    if row is None:
        raise NotFoundError(f"job {job_id} has no artifact {name}")
    url = ctx.storage().url_for(row.key, ctx.settings().presign_expiry_seconds)
    if url:
        return redirect(url, code=302)
    return send_file(
        ctx.storage().open(row.key),
        mimetype=row.content_type,
        download_name=row.key.rsplit("/", 1)[-1],
    )


@bp.get("/<job_id>/report")
def report(job_id: str) -> tuple[str, int, dict[str, str]]:
    """The job as a self-contained HTML page: progress, the problem, or the whole report."""
    job = service.get_job(ctx.db(), ctx.tenant_id(allow_cookie=True), job_id)
    picture, row = None, _find_artifact(job, "timeline") if job.status == "succeeded" else None
    if row is not None:
        with ctx.storage().open(row.key) as fh:
            picture = fh.read()
    body = _render(job)
    links = (body.get("result") or {}).get("artifacts") or {}
    page = render_report_page(body, picture, audio_links=links, json_url=f"/v1/jobs/{job.id}")
    return page, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def _find_artifact(job: Job, name: str) -> Artifact | None:
    return ctx.db().scalar(select(Artifact).where(Artifact.job_id == job.id, Artifact.name == name))


def _render(job: Job) -> dict[str, Any]:
    links = artifact_links(ctx.settings(), ctx.storage(), job.id, request.host_url)
    return job_to_dict(job, links, queue_position(ctx.db(), job))


def _parse_submission() -> tuple[service.NewJob, Any]:
    """Multipart with a `file` part, or JSON with a `source` URL or S3 key."""
    idem = request.headers.get("Idempotency-Key")
    if request.mimetype == "multipart/form-data":
        files, form = _multipart()
        upload = check_one_file(files)
        if upload is None:
            raise InvalidRequestError("multipart requests need a 'file' part")
        raw_metadata, raw_options = form.get("metadata"), form.get("options")
        fields = {
            "webhook_url": form.get("webhook_url"),
            "metadata": None if raw_metadata is None else parse_json(raw_metadata, "metadata"),
            "options": None if raw_options is None else parse_json(raw_options, "options"),
        }
        source = JobSource.upload(check_filename(upload.filename or "upload"))
        # The request is hashed only to recognise a repeat of an Idempotency-Key.
        digest = sha256_stream(upload.stream) if idem else ""
        new = _new_job(source, fields, idem, {"file": digest, **fields})
        return new, upload.stream
    body = parse_json(request.get_data(), "the request body") if request.is_json else None
    if not isinstance(body, dict):
        raise InvalidRequestError("send multipart/form-data with a 'file', or a JSON object")
    new = _new_job(_parse_source(body.get("source")), body, idem, body)
    return new, None


def _parse_source(source: Any) -> JobSource:
    if not isinstance(source, dict) or len(source) != 1:
        raise InvalidRequestError("source must be an object with exactly one of 'url' or 's3_key'")
    ((kind, value),) = source.items()
    if kind not in ("url", "s3_key") or not isinstance(value, str) or not value:
        raise InvalidRequestError("source must be {'url': '...'} or {'s3_key': '...'}")
    check_text(value, f"source.{kind}", MAX_URL_CHARS if kind == "url" else 1024)
    return JobSource.from_json({"kind": kind, kind: value})


def _new_job(
    source: JobSource, fields: dict[str, Any], idem: str | None, hashed: dict[str, Any]
) -> service.NewJob:
    webhook, metadata = fields.get("webhook_url"), fields.get("metadata")
    if webhook is not None:
        if not isinstance(webhook, str):
            raise InvalidRequestError("webhook_url must be an http(s) URL")
        check_text(webhook, "webhook_url", MAX_URL_CHARS)
        check_url_source(webhook, ctx.settings().allow_private_urls, field="webhook_url")
    metadata = check_metadata(metadata)
    options = parse_options(fields.get("options"), deployment_options(ctx.settings()))
    if idem is not None and not 1 <= len(idem) <= 255:
        raise InvalidRequestError("Idempotency-Key must be 1 to 255 characters")
    return service.NewJob(
        source=source,
        webhook_url=webhook,
        metadata=metadata,
        options=options,
        idempotency_key=idem,
        request_hash=service.request_hash(hashed),
    )


def _multipart() -> tuple[Any, Any]:
    """The parts of a multipart body; a body Werkzeug cannot parse is a 400 that says why
    (the app's form parser is strict, see app.api.StrictFormDataParser)."""
    try:
        return request.files, request.form
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "a multipart part header is not UTF-8 (a file name in another encoding?); "
            "send the file name in UTF-8"
        ) from None
    except ValueError as exc:
        raise InvalidRequestError(f"the multipart body cannot be parsed ({exc})") from None
