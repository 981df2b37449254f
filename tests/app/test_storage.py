"""Artifact storage: key scheme, local folder behaviour, presigned links."""

import io

import pytest

from app.storage import LocalStorage, S3Storage, StorageError, job_key


def test_job_keys_put_every_object_under_its_tenant_and_job():
    assert job_key("t1", "j1", "vocals.flac") == "tenants/t1/jobs/j1/vocals.flac"


def test_local_storage_round_trips_and_deletes(tmp_path):
    store = LocalStorage(tmp_path / "root")
    assert store.put_stream("a/b.bin", io.BytesIO(b"abc"), "application/octet-stream") == 3
    assert store.exists("a/b.bin") and store.size("a/b.bin") == 3
    assert store.head_bytes("a/b.bin", 2) == b"ab"
    store.delete("a/b.bin")
    assert not store.exists("a/b.bin") and store.size("a/b.bin") is None


def test_local_storage_refuses_keys_that_escape_its_root(tmp_path):
    with pytest.raises(StorageError):
        LocalStorage(tmp_path / "root").put_stream("../outside", io.BytesIO(b"x"), "x")


def test_links_are_signed_for_the_public_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Storage(
        "bucket",
        "prefix",
        "http://minio:9000",
        "us-east-1",
        public_endpoint_url="https://media.example.com",
    )
    url = store.url_for("tenants/t/jobs/j/vocals.flac", 60)
    assert url is not None and url.startswith("https://media.example.com/bucket/prefix/tenants/")
    assert "X-Amz-Signature=" in url
