"""A worker's cached gallery: reloaded only when the tenant's gallery version moves, and then
only what changed."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from app.db import session_scope
from app.services.voiceprints import enroll_reference, refresh_voiceprint
from app.tables import Artist, ArtistReference, Tenant
from workers.gallery_cache import clear_cache, load_gallery
from workers.runtime import GalleryRef


@pytest.fixture()
def tenant(migrated_settings) -> GalleryRef:
    clear_cache()
    with session_scope(migrated_settings.database_url) as session:
        row = Tenant(name=f"gallery-{uuid.uuid4()}")
        session.add(row)
        session.flush()
        return GalleryRef(migrated_settings.database_url, row.id)


def enrol(ref: GalleryRef, name: str, vector: list[float]) -> uuid.UUID:
    with session_scope(ref.database_url) as session:
        artist = Artist(id=uuid.uuid4(), tenant_id=ref.tenant_id, name=name)
        reference = ArtistReference(id=uuid.uuid4(), artist_id=artist.id, tenant_id=ref.tenant_id)
        session.add_all([artist, reference])
        session.flush()
        enroll_reference(session, reference.id, vector, 5.0, uuid.uuid4().hex)
        return artist.id


def test_an_unchanged_gallery_is_served_from_the_cache(tenant):
    enrol(tenant, "Ada", [1.0, 0.0])
    first = load_gallery(tenant)
    assert load_gallery(tenant) is first
    assert first.names == ("Ada",) and np.allclose(first.matrix, [[1.0, 0.0]])


def test_a_new_artist_is_added_and_a_changed_one_replaced(tenant):
    ada = enrol(tenant, "Ada", [1.0, 0.0])
    load_gallery(tenant)
    enrol(tenant, "Grace", [0.0, 1.0])
    with session_scope(tenant.database_url) as session:
        artist = session.get(Artist, ada)
        assert artist is not None
        session.add(ArtistReference(artist_id=ada, tenant_id=tenant.tenant_id, embedding=[1, 1]))
        session.flush()
        refresh_voiceprint(session, artist)
    gallery = load_gallery(tenant)
    rows = dict(zip(gallery.names, gallery.matrix, strict=True))
    assert set(rows) == {"Ada", "Grace"}
    assert np.allclose(rows["Grace"], [0.0, 1.0])
    expected = np.array([2.0, 1.0]) / np.linalg.norm([2.0, 1.0])  # mean of (1,0) and (1,1)
    assert np.allclose(rows["Ada"], expected, atol=1e-6)


def test_a_deleted_artist_leaves_the_cached_gallery(tenant):
    from app.services.voiceprints import bump_version

    enrol(tenant, "Ada", [1.0, 0.0])
    grace = enrol(tenant, "Grace", [0.0, 1.0])
    assert len(load_gallery(tenant)) == 2
    with session_scope(tenant.database_url) as session:
        session.delete(session.get(Artist, grace))
        bump_version(session, tenant.tenant_id)
    assert load_gallery(tenant).names == ("Ada",)


def test_an_artist_without_enrolled_references_is_not_in_the_gallery(tenant):
    with session_scope(tenant.database_url) as session:
        session.add(Artist(tenant_id=tenant.tenant_id, name="Nobody yet"))
    enrol(tenant, "Ada", [1.0, 0.0])
    assert load_gallery(tenant).names == ("Ada",)


def test_no_tenant_is_an_empty_gallery(migrated_settings):
    assert len(load_gallery(GalleryRef(migrated_settings.database_url, None))) == 0
