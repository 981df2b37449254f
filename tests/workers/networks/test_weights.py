"""Weights: resolution order, verification (full and prefix digests), fetch, and the CLI."""

from __future__ import annotations

import argparse
import hashlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from app.cli import weights as weights_cli
from app.config import PROJECT_ROOT
from app.errors import WeightsChecksumError, WeightsMissingError
from workers.networks.weights import WeightsDownloadError, download, load_manifest, resolve

GOOD = b"published weights " * 1000
TAMPERED = GOOD[:-1] + b"!"


class _Server:
    """A real HTTP server on 127.0.0.1 serving ``root``; counts the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                outer.requests.append(self.path)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def serve_folder(root: Path) -> Iterator[_Server]:
    """A real HTTP server on 127.0.0.1 serving the files of ``root`` while in the block."""
    srv = _Server(root)
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[_Server]:
    root = tmp_path / "served"
    root.mkdir()
    (root / "good.bin").write_bytes(GOOD)
    (root / "tampered.bin").write_bytes(TAMPERED)
    with serve_folder(root) as srv:
        yield srv


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def manifest(tmp_path: Path, server: _Server) -> Path:
    """Three models served by ``server``, one whose host refuses connections, and one
    with only a homepage (no direct file address)."""
    digest = hashlib.sha256(GOOD).hexdigest()
    common = {"role": "vocal-detector", "architecture": "test", "licence": "MIT", "trained_on": "-"}
    models = [
        {
            "name": "good",
            "file": "m/good.bin",
            "sha256": digest,
            "url": f"{server.url}/good.bin",
            **common,
        },
        {
            "name": "tampered",
            "file": "m/tampered.bin",
            "sha256": digest,
            "url": f"{server.url}/tampered.bin",
            **common,
        },
        {
            "name": "by-prefix",
            "file": "m/prefixed.bin",
            "sha256_prefix": digest[:8],
            "url": f"{server.url}/good.bin",
            **common,
        },
        {
            "name": "offline",
            "file": "m/offline.bin",
            "sha256": digest,
            "url": f"http://127.0.0.1:{closed_port()}/offline.bin",
            **common,
        },
        {
            "name": "by-hand",
            "file": "m/by-hand.bin",
            "sha256": digest,
            "homepage": f"{server.url}/project-page",
            **common,
        },
    ]
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"models": models}))
    return path


def test_download_verifies_then_renames_into_place(tmp_path: Path, manifest: Path):
    target = download(load_manifest(manifest)["good"], tmp_path / "w")
    assert target == tmp_path / "w" / "m" / "good.bin"
    assert target.read_bytes() == GOOD
    assert [p.name for p in target.parent.iterdir()] == ["good.bin"]


def test_tampered_download_is_rejected_and_leaves_nothing_behind(tmp_path, manifest):
    with pytest.raises(WeightsChecksumError, match="tampered"):
        download(load_manifest(manifest)["tampered"], tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_unreachable_host_fails_with_a_one_line_message(tmp_path, manifest):
    with pytest.raises(WeightsDownloadError, match="connection refused") as caught:
        download(load_manifest(manifest)["offline"], tmp_path / "w", timeout=5)
    assert "\n" not in caught.value.detail
    assert not (tmp_path / "w").exists()


def test_resolve_never_downloads_unless_allowed(tmp_path, manifest, server):
    with pytest.raises(WeightsMissingError, match="m/good.bin"):
        resolve("good", tmp_path / "w", manifest=manifest)
    assert server.requests == []
    resolved = resolve("good", tmp_path / "w", allow_download=True, manifest=manifest)
    assert resolved.path.read_bytes() == GOOD
    assert len(server.requests) == 1


def test_resolve_with_download_off_names_the_missing_file_and_how_to_get_it(
    tmp_path, manifest, server
):
    with pytest.raises(WeightsMissingError) as caught:
        resolve("good", tmp_path / "w", manifest=manifest)
    detail = caught.value.detail
    assert str(tmp_path / "w" / "m" / "good.bin") in detail
    assert f"{server.url}/good.bin" in detail and "SOUNDSCAPE_WEIGHTS_DOWNLOAD" in detail
    assert not isinstance(caught.value, WeightsDownloadError)


def test_resolve_prefers_a_local_file_to_a_download(tmp_path, manifest, server):
    (tmp_path / "w" / "m").mkdir(parents=True)
    (tmp_path / "w" / "m" / "good.bin").write_bytes(GOOD)
    resolved = resolve("good", tmp_path / "w", allow_download=True, manifest=manifest)
    assert resolved.path == tmp_path / "w" / "m" / "good.bin"
    assert server.requests == []


def test_resolve_download_from_an_unreachable_host_is_a_download_error(tmp_path, manifest):
    with pytest.raises(WeightsDownloadError, match="connection refused") as caught:
        resolve("offline", tmp_path / "w", allow_download=True, manifest=manifest)
    assert isinstance(caught.value, WeightsMissingError)
    assert not (tmp_path / "w").exists()


def test_resolve_treats_a_tampered_download_as_a_failed_download(tmp_path, manifest):
    with pytest.raises(WeightsDownloadError, match="does not match the sha256"):
        resolve("tampered", tmp_path / "w", allow_download=True, manifest=manifest)
    assert not (tmp_path / "w").exists()


def test_an_unwritable_weights_folder_is_a_download_error(tmp_path, manifest, server):
    not_a_folder = tmp_path / "w"
    not_a_folder.write_text("a file where the weights folder should be")
    with pytest.raises(WeightsDownloadError, match="cannot write good"):
        download(load_manifest(manifest)["good"], not_a_folder)
    assert server.requests == []


def test_entry_without_a_file_address_is_never_requested(tmp_path, manifest, server):
    entry = load_manifest(manifest)["by-hand"]
    assert entry.url is None and entry.homepage == f"{server.url}/project-page"
    with pytest.raises(WeightsDownloadError, match="by hand from .*/project-page"):
        resolve("by-hand", tmp_path / "w", allow_download=True, manifest=manifest)
    assert server.requests == []
    assert not (tmp_path / "w").exists()


def test_shipped_manifest_urls_address_weight_files_not_repository_pages():
    from workers.networks.weights import BUNDLED_DIR

    for entry in load_manifest().values():
        bundled = (BUNDLED_DIR / entry.file).is_file()  # shipped in the repository's weights/
        assert entry.url is not None or entry.homepage or bundled, entry.name
        if entry.url is not None:
            assert Path(entry.url).suffix in {".pth", ".pt", ".th"}, entry.url
            assert "/raw/" in entry.url or "github.com" not in entry.url, entry.url


def test_resolve_takes_the_settings_folder_first(tmp_path: Path):
    shared = PROJECT_ROOT.parent / "shared" / "weights"
    resolved = resolve("aasist", shared)
    assert resolved.path == shared / "aasist" / "AASIST.pth"
    assert resolved.sha256 == load_manifest()["aasist"].sha256


def test_a_file_failing_its_sha256_is_an_error(tmp_path: Path, manifest: Path):
    (tmp_path / "w" / "m").mkdir(parents=True)
    (tmp_path / "w" / "m" / "good.bin").write_bytes(TAMPERED)
    with pytest.raises(WeightsChecksumError):
        resolve("good", tmp_path / "w", manifest=manifest)


def test_prefix_entry_verifies_by_prefix_and_records_the_full_digest(tmp_path, manifest):
    (tmp_path / "w" / "m").mkdir(parents=True)
    (tmp_path / "w" / "m" / "prefixed.bin").write_bytes(GOOD)
    resolved = resolve("by-prefix", tmp_path / "w", manifest=manifest)
    assert resolved.sha256 == hashlib.sha256(GOOD).hexdigest()
    (tmp_path / "w" / "m" / "prefixed.bin").write_bytes(TAMPERED)
    with pytest.raises(WeightsChecksumError):
        resolve("by-prefix", tmp_path / "w", manifest=manifest)


def test_shipped_htdemucs_entry_is_verified_by_its_published_prefix():
    entry = load_manifest()["htdemucs"]
    assert entry.sha256 is None  # we know only what upstream publishes
    assert entry.sha256_prefix == "8726e21a" and entry.file.endswith("-8726e21a.th")


def _run_cli(argv: list[str], monkeypatch, weights_dir: Path) -> int:
    monkeypatch.setenv("SOUNDSCAPE_WEIGHTS_DIR", str(weights_dir))
    parser = argparse.ArgumentParser()
    weights_cli.add_arguments(parser)
    return weights_cli.run(parser.parse_args(argv))


def test_cli_lists_every_model_with_its_state(tmp_path, manifest, monkeypatch, capsys):
    (tmp_path / "w" / "m").mkdir(parents=True)
    (tmp_path / "w" / "m" / "good.bin").write_bytes(GOOD)
    (tmp_path / "w" / "m" / "tampered.bin").write_bytes(TAMPERED)
    assert _run_cli(["--manifest", str(manifest)], monkeypatch, tmp_path / "w") == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["NAME"][:7] == ["NAME", "ROLE", "DEFAULT", "LICENCE", "PRESENT", "VERIFIED", "PATH"]
    assert rows["good"][4:] == ["yes", "yes", str(tmp_path / "w" / "m" / "good.bin")]
    assert rows["tampered"][4:6] == ["yes", "no"]
    assert rows["offline"][4:6] == ["no", "no"]


def test_cli_fetch_downloads_good_files_and_rejects_tampered_ones(
    tmp_path, manifest, monkeypatch, capsys
):
    argv = ["fetch", "good", "tampered", "--manifest", str(manifest)]
    assert _run_cli(argv, monkeypatch, tmp_path / "w") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("good: downloaded and verified")
    assert out[1].startswith("tampered: ") and "does not match the sha256" in out[1]
    assert sorted(p.name for p in (tmp_path / "w" / "m").iterdir()) == ["good.bin"]


def test_cli_fetch_of_a_model_without_file_address_says_so_in_one_line(
    tmp_path, manifest, monkeypatch, capsys, server
):
    argv = ["fetch", "by-hand", "--manifest", str(manifest)]
    assert _run_cli(argv, monkeypatch, tmp_path / "w") == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line == (
        f"by-hand: no direct download address; download it by hand from "
        f"{server.url}/project-page to {tmp_path / 'w' / 'm' / 'by-hand.bin'}"
    )
    assert server.requests == []


def test_cli_module_does_not_import_torch():
    code = "import sys, app.cli.weights; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT).returncode == 0
