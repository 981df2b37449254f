"""The artist gallery as the workers see it: the version counter, voiceprints, enrolment of
a reference's embedding, and the reads a worker's cached gallery is built from.

Every change to a tenant's voiceprints (an artist added or removed, a reference enrolled or
deleted) raises the tenant's gallery version in the same transaction and stamps the changed
artist's ``revision`` with it; a worker reads the version first and reloads only the artists
whose revision is newer than its cache. Voiceprints are computed in plain Python: 256
numbers a reference, and the API process loads no numpy.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import DuplicateReferenceError
from app.tables import Artist, ArtistGallery, ArtistReference

# The tenant whose gallery `soundscape artists` and `soundscape analyze` use by default.
LOCAL_TENANT = "local"


@dataclass(frozen=True)
class VoiceprintRow:
    """One artist's row as a worker caches it."""

    artist_id: uuid.UUID
    name: str
    voiceprint: list[float] | None


def bump_version(session: Session, tenant_id: uuid.UUID) -> int:
    """Raise the tenant's gallery version by one and return it (the row is created on the
    first change; the update holds its row lock until the caller commits, so concurrent
    changes get distinct versions)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = (
        insert(ArtistGallery)
        .values(tenant_id=tenant_id, version=1)
        .on_conflict_do_update(
            index_elements=["tenant_id"], set_={"version": ArtistGallery.version + 1}
        )
        .returning(ArtistGallery.version)
    )
    return int(session.execute(statement).scalar_one())


def gallery_version(session: Session, tenant_id: uuid.UUID) -> int:
    """The tenant's current gallery version; 0 before its first change."""
    version = session.scalar(
        select(ArtistGallery.version).where(ArtistGallery.tenant_id == tenant_id)
    )
    return int(version or 0)


def mean_voiceprint(embeddings: Sequence[Sequence[float]]) -> list[float] | None:
    """The normalised mean of ``embeddings``; None when there are none."""
    if not embeddings:
        return None
    mean = [sum(column) / len(embeddings) for column in zip(*embeddings, strict=True)]
    norm = math.sqrt(sum(value * value for value in mean)) or 1.0
    return [value / norm for value in mean]


def refresh_voiceprint(session: Session, artist: Artist) -> None:
    """Recompute ``artist``'s voiceprint from its enrolled references and mark the gallery
    changed. The caller commits."""
    embeddings = session.scalars(
        select(ArtistReference.embedding).where(
            ArtistReference.artist_id == artist.id, ArtistReference.embedding.is_not(None)
        )
    ).all()
    artist.voiceprint = mean_voiceprint([list(e) for e in embeddings if e is not None])
    artist.revision = bump_version(session, artist.tenant_id)


def enroll_reference(
    session: Session,
    reference_id: uuid.UUID,
    embedding: Sequence[float],
    vocal_seconds: float,
    sha256: str,
) -> bool:
    """Store a reference's embedding and update its artist's voiceprint; False when the
    reference was deleted meanwhile. DuplicateReferenceError when the artist already has an
    enrolled reference with the same content (``sha256`` of the original bytes)."""
    reference = session.get(ArtistReference, reference_id, with_for_update=True)
    if reference is None:
        return False
    artist = session.get(Artist, reference.artist_id, with_for_update=True)
    if artist is None:
        return False
    duplicate = session.scalar(
        select(ArtistReference.id).where(
            ArtistReference.artist_id == artist.id,
            ArtistReference.sha256 == sha256,
            ArtistReference.embedding.is_not(None),
            ArtistReference.id != reference.id,
        )
    )
    if duplicate is not None:
        raise DuplicateReferenceError(
            f"artist {artist.name!r} already has this recording (reference {duplicate})"
        )
    reference.sha256 = sha256
    reference.embedding = [float(v) for v in embedding]
    reference.vocal_seconds = vocal_seconds
    refresh_voiceprint(session, artist)
    session.commit()
    return True


def changed_voiceprints(session: Session, tenant_id: uuid.UUID, since: int) -> list[VoiceprintRow]:
    """Artists of the tenant whose revision is newer than ``since`` (all of them for 0)."""
    rows = session.execute(
        select(Artist.id, Artist.name, Artist.voiceprint).where(
            Artist.tenant_id == tenant_id, Artist.revision > since
        )
    )
    return [VoiceprintRow(row.id, row.name, row.voiceprint) for row in rows]


def artist_ids(session: Session, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    """Every artist of the tenant (a cached gallery drops the ones no longer here)."""
    return set(session.scalars(select(Artist.id).where(Artist.tenant_id == tenant_id)))
