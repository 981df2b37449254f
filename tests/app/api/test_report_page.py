"""GET /v1/jobs/{id}/report for running, failed and succeeded jobs, and the console at /."""

from __future__ import annotations

import base64
import io
import re
import uuid
from contextlib import contextmanager

import numpy as np
import pytest

from app import jobstate
from app.db import session_scope
from app.storage import job_key, make_storage
from tests.app.api.test_jobs import auth, upload
from tests.conftest import make_tone_file
from workers.compute.timeline_plot import ScoreCurve, TimelinePicture, render_png

REPORT = {
    "verdict": "inconclusive",
    "scores": {"vocals": 0.9975, "mixture": 0.83661, "overall": 0.83661},
    "thresholds": {"vocals": 0.998367367, "mixture": 0.999999218, "mixture_authentic": 0.7248},
    "reasons": ["mixture detector soundscape-mix 0.8366 lies between the thresholds"],
    "regions": [{"start": 12.0, "end": 31.5, "score": 0.97, "source": "mixture"}],
    "localization": {
        "thresholds": {"mixture": {"on": 0.95, "off": 0.9}},
        "min_duration_seconds": 3.0,
        "merge_gap_seconds": 3.0,
        "not_localized": {"vocals": "aasist is not calibrated on music: drawn, not localized"},
    },
    "artist_matches": [
        {"artist_id": "a1", "name": "Ada <Lovelace>", "similarity": 0.81234, "match": True},
        {"artist_id": "a2", "name": "Bo", "similarity": 0.4, "match": False, "windows": [3, 4]},
    ],
    "timeline": {"hop_seconds": 1.0, "vocals": [None, 0.9], "mixture": [0.2, 0.99]},
    "audio": {"duration_seconds": 2.0, "sample_rate": 44100, "channels": 2, "sha256": "ab"},
    "models": {
        "separator": {"name": "repet-sim", "sha256": None},
        "mixture_detector": {
            "name": "soundscape-mix",
            "sha256": "21bdffcc" * 8,
            "domain": "music",
            "calibrated_on_music": True,
        },
        "vocal_detector": {
            "name": "aasist",
            "sha256": "51d2d9cf" * 8,
            "domain": "speech",
            "calibrated_on_music": False,
        },
    },
    "artifacts": {"canonical": "k/canonical.flac", "vocals": "k/vocals.flac"},
    "warnings": ["htdemucs weights not installed: used repet-sim"],
}


@pytest.fixture()
def wav_bytes(tmp_path, ffmpeg) -> bytes:
    return make_tone_file(tmp_path / "tone.wav", seconds=1.0).read_bytes()


def submit(client, api_key, wav_bytes, name="track.wav") -> uuid.UUID:  # type: ignore[no-untyped-def]
    return uuid.UUID(upload(client, api_key, wav_bytes, name=name).get_json()["id"])


def page(client, job_id, key):  # type: ignore[no-untyped-def]
    response = client.get(f"/v1/jobs/{job_id}/report", headers=auth(key) if key else {})
    return response, response.get_data(as_text=True)


def picture_png() -> bytes:
    return render_png(
        TimelinePicture(
            title="track.wav: inconclusive",
            verdict="inconclusive",
            duration_seconds=2.0,
            hop_seconds=1.0,
            envelope=(np.array([-0.5, -0.2]), np.array([0.5, 0.3])),
            vocal_activity=[0.0, 1.0],
            curves=[ScoreCurve("mixture", [0.2, 0.99], {"synthetic verdict": 0.999999218})],
            regions=[(1.0, 2.0, "mixture")],
        )
    )


@contextmanager
def ingest_begun(settings, job_id):  # type: ignore[no-untyped-def]
    """A session on the job once it started and its ingest stage began."""
    with session_scope(settings.database_url) as session:
        assert jobstate.start_job(session, job_id, "ingest")
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0)
        yield session


def test_a_running_job_shows_its_stage_and_progress_and_reloads(
    client, api_key, wav_bytes, migrated_settings
):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes)
    with ingest_begun(migrated_settings, job_id) as session:
        # Past the stages in between: the hand-off makes detect due, and it starts.
        jobstate.make_next_due(session, job_id, "ingest", "detect")
        assert jobstate.begin_stage(session, job_id, "detect", 0.5)
    response, html = page(client, job_id, api_key)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "In progress" in html and "<strong>detect</strong>" in html and "50 %" in html
    assert '<meta http-equiv="refresh" content="5">' in html


def test_a_job_between_two_stages_names_the_stage_it_waits_for(
    client, api_key, wav_bytes, migrated_settings
):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes)
    with ingest_begun(migrated_settings, job_id) as session:
        jobstate.make_next_due(session, job_id, "ingest", "separate", progress=1 / 6)
    _, html = page(client, job_id, api_key)
    assert "<strong>ingest</strong> done" in html and "<strong>separate</strong>" in html
    assert "17 %" in html


def test_a_queued_job_waits_for_a_worker(client, api_key, wav_bytes):  # type: ignore[no-untyped-def]
    _, html = page(client, submit(client, api_key, wav_bytes), api_key)
    assert "Waiting for a worker" in html and "<strong>1</strong> in the queue" in html


def test_a_failed_job_shows_the_problem(client, api_key, wav_bytes, migrated_settings):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes)
    problem = {
        "type": "about:blank",
        "title": "Corrupt audio",
        "status": 422,
        "detail": "the stream ends before its declared length",
        "code": "corrupt_audio",
        "stage": "ingest",
    }
    with session_scope(migrated_settings.database_url) as session:
        assert jobstate.fail_job(session, job_id, problem)
    response, html = page(client, job_id, api_key)
    assert response.status_code == 200
    assert "The analysis failed" in html and "the stream ends before its declared length" in html
    assert "<code>corrupt_audio</code>" in html and "<code>ingest</code>" in html
    assert "refresh" not in html


def succeed(settings, job_id: uuid.UUID, png: bytes) -> None:  # type: ignore[no-untyped-def]
    with session_scope(settings.database_url) as session:
        from app.tables import Job

        tenant = session.get(Job, job_id).tenant_id
        assert jobstate.start_job(session, job_id, "ingest")
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0)  # the job runs
    key = job_key(tenant, job_id, "timeline.png")
    make_storage(settings).put_stream(key, io.BytesIO(png), "image/png")
    with session_scope(settings.database_url) as session:
        jobstate.record_artifact(session, job_id, "timeline", key, "image/png", len(png))
        assert jobstate.succeed_job(
            session, job_id, {**REPORT, "artifacts": {**REPORT["artifacts"], "timeline": key}}
        )


def test_a_succeeded_job_shows_the_whole_report(client, api_key, wav_bytes, migrated_settings):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes, name="<i>song</i>.wav")
    png = picture_png()
    succeed(migrated_settings, job_id, png)
    response, html = page(client, job_id, api_key)
    assert response.status_code == 200
    assert 'Verdict: <span id="verdict-value">inconclusive</span>' in html
    assert "lies between the thresholds" in html
    # Scores against their thresholds, and which detector decides.
    assert "0.8366" in html and "synthetic ≥ 0.999999218" in html and "authentic ≤ 0.7248" in html
    assert "no: reported only (not calibrated on music)" in html
    # The regions table, in m:ss.
    assert re.search(
        r'<tr class="region"><td class="num">0:12.0</td><td class="num">0:31.5</td>', html
    )
    assert "on 0.95, off 0.9" in html and "aasist is not calibrated on music" in html
    # Artist matches: every key any match has is a column; values escaped.
    for column in ("artist_id", "name", "similarity", "match", "windows"):
        assert f"<th>{column}</th>" in html
    assert "Ada &lt;Lovelace&gt;" in html and "0.8123" in html and "3, 4" in html
    # The picture is inline, byte for byte.
    inline = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert inline and base64.b64decode(inline.group(1)) == png
    # Audio players play the artifacts through the API's links.
    assert (
        f"/v1/jobs/{job_id}/artifacts/canonical" in html
        and f"/v1/jobs/{job_id}/artifacts/vocals" in html
    )
    assert "soundscape-mix" in html and "21bdffcc21bdffcc" in html
    # The file name is text, never markup.
    assert "<i>song</i>" not in html and "&lt;i&gt;song&lt;/i&gt;.wav" in html
    assert "<script" not in html


def test_an_authentic_report_says_why_it_has_no_regions(
    client, api_key, wav_bytes, migrated_settings
):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes)
    with session_scope(migrated_settings.database_url) as session:
        assert jobstate.start_job(session, job_id, "ingest")
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0)  # the job runs
        report = {**REPORT, "verdict": "likely_authentic", "regions": [], "artist_matches": []}
        report["options"] = {"vocal_detector": False}
        assert jobstate.succeed_job(session, job_id, report)
    _, html = page(client, job_id, api_key)
    assert "No region of the track looks synthetic (the track is judged authentic)" in html
    assert "Options: vocal detector off (the speech-trained vocal detector does not" in html
    assert "No known artist" in html and "No timeline picture" in html


def test_the_report_needs_the_key_of_its_tenant(client, api_key, wav_bytes, migrated_settings):  # type: ignore[no-untyped-def]
    from app.services.tenants import create_key

    job_id = submit(client, api_key, wav_bytes)
    assert page(client, job_id, None)[0].status_code == 401
    other = create_key(migrated_settings.database_url, "tenant-b")
    response, _ = page(client, job_id, other)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_the_console_cookie_opens_reports_and_artifacts_but_nothing_else(
    client, api_key, wav_bytes
):  # type: ignore[no-untyped-def]
    job_id = submit(client, api_key, wav_bytes)
    assert client.post("/console/session", headers=auth("wrong")).status_code == 401
    session = client.post("/console/session", headers=auth(api_key))
    assert session.status_code == 204
    cookie = session.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/v1/jobs/" in cookie
    assert page(client, job_id, None)[0].status_code == 200
    assert client.get(f"/v1/jobs/{job_id}/artifacts/nothing").status_code == 404
    # JSON endpoints and every change of state still need the Authorization header.
    assert client.get(f"/v1/jobs/{job_id}").status_code == 401
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 401
    assert client.post("/console/logout").status_code == 204
    assert page(client, job_id, None)[0].status_code == 401


def test_the_console_is_served_at_the_root(client):  # type: ignore[no-untyped-def]
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'id="api-key"' in html and 'id="files"' in html and "multiple" in html
    assert "/console/session" in html and "/report" in html
    assert "http://" not in html and "https://" not in html  # no external assets
