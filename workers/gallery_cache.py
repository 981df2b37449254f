"""A tenant's artist gallery as one matrix of voiceprints, cached per worker process and
brought up to date when the tenant's gallery version moves.

Each identification reads the version (one indexed row). When it moved, only the artists
whose revision is newer than the cached version are read, and artists no longer in the
database are dropped; an unchanged gallery costs one query, a change costs what changed
(plus the list of ids). The version is read before the rows: rows committed in between are
read again next time, never missed.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import numpy as np

from app.db import get_sessionmaker
from app.services import voiceprints as store
from workers.compute.identification import Gallery, normalise
from workers.runtime import GalleryRef

EMPTY = Gallery((), (), np.zeros((0, 0), dtype=np.float32))


@dataclass(frozen=True)
class _Cached:
    version: int
    gallery: Gallery


_cache: dict[tuple[str, uuid.UUID], _Cached] = {}
_lock = threading.Lock()


def load_gallery(ref: GalleryRef) -> Gallery:
    """The current gallery of ``ref``'s tenant (empty without a tenant)."""
    if ref.tenant_id is None:
        return EMPTY
    key = (ref.database_url, ref.tenant_id)
    with _lock:
        cached = _cache.get(key)
        with get_sessionmaker(ref.database_url)() as session:
            version = store.gallery_version(session, ref.tenant_id)
            if cached is not None and cached.version == version:
                return cached.gallery
            since = cached.version if cached is not None else 0
            changed = store.changed_voiceprints(session, ref.tenant_id, since)
            alive = store.artist_ids(session, ref.tenant_id) if cached is not None else None
        base = cached.gallery if cached is not None else EMPTY
        gallery = apply_changes(base, changed, alive)
        _cache[key] = _Cached(version, gallery)
        return gallery


def apply_changes(
    base: Gallery, changed: list[store.VoiceprintRow], alive: set[uuid.UUID] | None
) -> Gallery:
    """``base`` with ``changed`` rows replaced or added (a row without a voiceprint leaves
    the gallery) and, when ``alive`` is given, every artist not in it dropped."""
    updates = {str(row.artist_id) for row in changed}
    present = None if alive is None else {str(artist) for artist in alive}
    keep = [
        i
        for i, artist in enumerate(base.ids)
        if artist not in updates and (present is None or artist in present)
    ]
    added = [row for row in changed if row.voiceprint is not None]
    ids = tuple(base.ids[i] for i in keep) + tuple(str(r.artist_id) for r in added)
    names = tuple(base.names[i] for i in keep) + tuple(r.name for r in added)
    if not ids:
        return EMPTY
    parts = []
    if keep:
        parts.append(base.matrix[keep])
    if added:
        parts.append(normalise(np.asarray([r.voiceprint for r in added], dtype=np.float32)))
    return Gallery(ids, names, np.ascontiguousarray(np.concatenate(parts), dtype=np.float32))


def clear_cache() -> None:
    with _lock:
        _cache.clear()
