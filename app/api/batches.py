"""/v1/batches: catalogue scans. Create (items, a CSV/JSONL manifest, or a storage prefix),
add uploads, close, cancel, read counts and items, and stream the results."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import context as ctx
from app.api.validation import check_one_file
from app.db import get_sessionmaker
from app.errors import InvalidRequestError, TooLargeError
from app.hashing import sha256_stream
from app.manifest import ItemSpec, check_item, guess_format, read_manifest
from app.outbound import check_url_source
from app.services import batch_reads as reads
from app.services import batches as service
from app.services.jobs import request_hash
from app.tables import Batch

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@bp.post("")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    tenant = ctx.submitting_tenant_id()
    items: Iterable[ItemSpec] | None
    if request.mimetype == "multipart/form-data":
        new, items = _manifest_submission(tenant)
    else:
        new, items = _json_submission(tenant)
    session = ctx.db()
    batch = service.find_replay(session, tenant, new)
    if batch is None:
        batch = service.create_batch(session, ctx.settings(), tenant, new, items)
    return _render(batch), 202, {"Location": f"/v1/batches/{batch.id}"}


@bp.get("")
def index() -> dict[str, Any]:
    rows, cursor = reads.list_batches(
        ctx.db(),
        ctx.tenant_id(),
        request.args.get("status"),
        ctx.int_arg("limit", 20),
        request.args.get("cursor"),
    )
    return {"data": [_render(batch) for batch in rows], "next_cursor": cursor}


@bp.get("/<batch_id>")
def show(batch_id: str) -> dict[str, Any]:
    return _render(_batch(batch_id))


@bp.post("/<batch_id>/items")
def add_item(batch_id: str) -> tuple[dict[str, Any], int]:
    """One uploaded file (multipart ``file`` and ``custom_id``; ``custom_id`` may also be a
    query parameter, so that an upload over the size limit is still recorded)."""
    tenant = ctx.submitting_tenant_id()
    batch = service.get_batch(ctx.db(), tenant, batch_id)
    custom_id = request.args.get("custom_id")
    try:
        upload = check_one_file(request.files)
        custom_id = request.form.get("custom_id") or custom_id
    except RequestEntityTooLarge:
        if not custom_id:
            raise
        limit = ctx.settings().max_upload_bytes
        refused = ItemSpec.failed(custom_id, TooLargeError(f"over {limit} bytes"), "upload")
        item = service.append_item(ctx.db(), batch.id, refused)
        return reads.get_item(ctx.db(), batch.id, item.seq), 202
    if upload is None or not custom_id:
        raise InvalidRequestError("send multipart/form-data with a 'file' and a 'custom_id'")
    if len(custom_id) > 255:
        raise InvalidRequestError("custom_id must be 1 to 255 characters")
    item, new = service.add_upload(
        ctx.db(),
        ctx.settings(),
        ctx.storage(),
        batch,
        custom_id,
        upload.filename or custom_id,
        upload.stream,
    )
    return reads.get_item(ctx.db(), batch.id, item.seq), 202 if new else 200


@bp.post("/<batch_id>/close")
def close(batch_id: str) -> dict[str, Any]:
    return _render(service.close_batch(ctx.db(), ctx.settings(), _batch(batch_id)))


@bp.post("/<batch_id>/cancel")
def cancel(batch_id: str) -> dict[str, Any]:
    return _render(service.cancel_batch(ctx.db(), ctx.settings(), _batch(batch_id)))


@bp.get("/<batch_id>/items")
def items(batch_id: str) -> dict[str, Any]:
    batch = _batch(batch_id)
    rows, cursor = reads.list_items(
        ctx.db(),
        batch.id,
        request.args.get("status"),
        ctx.int_arg("limit", 100),
        request.args.get("cursor"),
    )
    return {"data": rows, "next_cursor": cursor}


@bp.get("/<batch_id>/results")
def results(batch_id: str) -> Response:
    """Every item in submission order, finished or not, streamed (JSONL or CSV)."""
    batch = _batch(batch_id)
    fmt = request.args.get("format", "jsonl")
    if fmt not in EXPORT_TYPES:
        raise InvalidRequestError(f"format must be one of {', '.join(EXPORT_TYPES)}")
    factory = get_sessionmaker(ctx.settings().database_url)
    lines = reads.export_lines(factory, batch.id, fmt)
    return Response(
        stream_with_context(lines),
        mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.{fmt}"'},
    )


def _batch(batch_id: str) -> Batch:
    return service.get_batch(ctx.db(), ctx.tenant_id(), batch_id)


def _render(batch: Batch) -> dict[str, Any]:
    return reads.batch_to_dict(batch, reads.counts(ctx.db(), batch.id))


def _json_submission(tenant: Any) -> tuple[service.NewBatch, Iterable[ItemSpec] | None]:
    """``{"items": [...]}``, ``{"source": {"s3_prefix": ...}}``, or neither (an open batch
    that takes uploads until it is closed)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("send a JSON object, or multipart/form-data with a manifest")
    service.check_json_fields(body)
    new = _new_batch(body, body)
    allow = ctx.settings().allow_private_urls
    if "items" in body:
        listed = body["items"]
        return new, (check_item(raw, tenant, allow, f"items[{i}]") for i, raw in enumerate(listed))
    if "source" in body:
        source = body["source"]
        prefix = source.get("s3_prefix") if isinstance(source, dict) else None
        if not isinstance(prefix, str) or not prefix or len(source) != 1:
            raise InvalidRequestError("a batch's source must be {'s3_prefix': 'tenants/<id>/...'}")
        return new, service.prefix_items(ctx.storage(), tenant, prefix)
    return new, None


def _manifest_submission(tenant: Any) -> tuple[service.NewBatch, Iterator[ItemSpec]]:
    manifest = check_one_file(request.files)
    if manifest is None:
        raise InvalidRequestError("multipart requests need a 'file' part (the manifest)")
    stream = manifest.stream
    fields = {
        "webhook_url": request.form.get("webhook_url"),
        "job_webhooks": request.form.get("job_webhooks", "false").lower() in ("1", "true"),
        "metadata": _json_field(request.form.get("metadata")),
    }
    hashed = {**fields, "manifest": sha256_stream(stream)}
    fmt = guess_format(request.form.get("format"), manifest.filename, stream.read(512))
    stream.seek(0)
    allow = ctx.settings().allow_private_urls
    return _new_batch(fields, hashed), read_manifest(stream, fmt, tenant, allow)


def _new_batch(fields: dict[str, Any], hashed: dict[str, Any]) -> service.NewBatch:
    webhook, metadata = fields.get("webhook_url"), fields.get("metadata")
    job_webhooks = fields.get("job_webhooks", False)
    idem = request.headers.get("Idempotency-Key")
    if webhook is not None:
        if not isinstance(webhook, str):
            raise InvalidRequestError("webhook_url must be an http(s) URL")
        check_url_source(webhook, ctx.settings().allow_private_urls, field="webhook_url")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequestError("metadata must be a JSON object")
    if not isinstance(job_webhooks, bool) or (job_webhooks and webhook is None):
        raise InvalidRequestError("job_webhooks is a boolean, and needs a webhook_url")
    if idem is not None and not 1 <= len(idem) <= 255:
        raise InvalidRequestError("Idempotency-Key must be 1 to 255 characters")
    return service.NewBatch(webhook, job_webhooks, metadata, idem, request_hash(hashed))


def _json_field(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidRequestError("metadata must be a JSON object") from None
