"""The job service under races the HTTP layer cannot stage on its own."""

import io

from app.db import session_scope
from app.jobsource import JobSource
from app.services import jobs as service
from app.services.tenants import create_key
from app.storage import make_storage
from app.tables import ApiKey
from tests.conftest import make_tone_file


def test_two_requests_with_one_idempotency_key_at_once_give_one_job(
    migrated_settings, tmp_path, ffmpeg
):
    from sqlalchemy import select

    create_key(migrated_settings.database_url, "racer")
    data = make_tone_file(tmp_path / "t.wav", seconds=1.0).read_bytes()
    new = service.NewJob(
        source=JobSource.upload("t.wav"),
        webhook_url=None,
        metadata=None,
        idempotency_key="same",
        request_hash="h",
    )
    storage = make_storage(migrated_settings)
    with (
        session_scope(migrated_settings.database_url) as first,
        session_scope(migrated_settings.database_url) as second,
    ):
        tenant = first.scalar(select(ApiKey.tenant_id))
        # Both requests looked for a replay before either committed: neither found one.
        assert service.find_replay(first, tenant, new) is None
        assert service.find_replay(second, tenant, new) is None
        winner = service.submit_upload(
            first, migrated_settings, storage, tenant, new, io.BytesIO(data)
        )
        loser = service.submit_upload(
            second, migrated_settings, storage, tenant, new, io.BytesIO(data)
        )
    assert loser.id == winner.id
    stored = list((migrated_settings.data_dir / "artifacts").rglob("source"))
    assert [p.parent.name for p in stored] == [str(winner.id)]
