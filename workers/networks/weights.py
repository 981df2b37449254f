"""The weights manifest and where each model's file is found, verified by sha256."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import yaml

from app.config import PROJECT_ROOT
from app.errors import WeightsChecksumError, WeightsMissingError
from app.hashing import sha256_file

if TYPE_CHECKING:
    from workers.networks.roles import ModelInfo, MusicThresholds

# A machine with no route out should fail in seconds, not hang: connect timeout 5 s; a
# stalled transfer gives up after 60 s without a byte.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0

MANIFEST_PATH = PROJECT_ROOT / "weights" / "manifest.yaml"
BUNDLED_DIR = PROJECT_ROOT / "weights"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest; ``extra`` holds role-specific fields (window, threshold...).

    ``sha256`` is the full digest of the file when it is known. Some upstream files are
    published with only a prefix of their digest (Demucs names its files
    ``<signature>-<first 8 hex of sha256>.th``); those carry ``sha256_prefix`` instead and
    are verified by prefix, which is as much as the publisher vouches for. Once verified,
    the full digest of the file actually used is what results record.

    ``url`` is a direct address of the file itself; ``homepage`` is where a person finds it.
    An entry with no ``url`` is never downloaded: its file must be fetched by hand.
    """

    name: str
    role: str
    architecture: str
    file: str
    sha256: str | None
    licence: str
    trained_on: str
    url: str | None = None
    homepage: str | None = None
    default: bool = False
    quality: dict[str, Any] = field(default_factory=dict)
    sha256_prefix: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sha256 is None and not self.sha256_prefix:
            raise ValueError(f"manifest entry {self.name} needs sha256 or sha256_prefix")
        if self.sha256 is not None and len(self.sha256) != 64:
            raise ValueError(f"manifest entry {self.name}: sha256 must be 64 hex digits")
        if self.sha256_prefix is not None and len(self.sha256_prefix) < 8:
            raise ValueError(f"manifest entry {self.name}: sha256_prefix needs >= 8 hex digits")

    @property
    def expected_digest(self) -> str:
        """What a file's sha256 must start with (the whole digest when it is known)."""
        return (self.sha256 or self.sha256_prefix or "").lower()

    @property
    def source(self) -> str:
        """Where a person gets the file: its direct address, else its homepage."""
        return self.url or self.homepage or "its publisher"


class WeightsDownloadError(WeightsMissingError):
    """The file is missing and could not be fetched from its public address."""

    code, title = "weights_download_failed", "Model weights could not be downloaded"


@dataclass(frozen=True)
class ResolvedWeights:
    """A verified weights file; ``sha256`` is the full digest of that file."""

    entry: ModelEntry
    path: Path
    actual_sha256: str | None = None

    @property
    def sha256(self) -> str:
        return self.actual_sha256 or self.entry.sha256 or ""


_KNOWN = {
    "name",
    "role",
    "architecture",
    "file",
    "sha256",
    "sha256_prefix",
    "licence",
    "trained_on",
    "url",
    "homepage",
    "default",
    "quality",
}


@lru_cache(maxsize=4)
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelEntry]:
    """Parse the manifest into entries keyed by model name."""
    raw = yaml.safe_load(path.read_text())
    entries: dict[str, ModelEntry] = {}
    for item in raw["models"]:
        known = {"sha256": None, **{k: v for k, v in item.items() if k in _KNOWN}}
        extra = {k: v for k, v in item.items() if k not in _KNOWN}
        entries[item["name"]] = ModelEntry(**known, extra=extra)
    return entries


@lru_cache(maxsize=64)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime so a replaced file is hashed again, an unchanged one once.
    return sha256_file(path)


def verify_file(entry: ModelEntry, path: Path) -> str:
    """The full sha256 of ``path``; WeightsChecksumError unless it matches ``entry``."""
    stat = path.stat()
    digest = _digest(path.resolve(), stat.st_size, stat.st_mtime_ns)
    if not digest.startswith(entry.expected_digest):
        raise WeightsChecksumError(
            f"{path} does not match the sha256 of {entry.name} in weights/manifest.yaml "
            f"(expected {entry.expected_digest}..., got {digest[:16]}...)"
        )
    return digest


def candidate_paths(entry: ModelEntry, weights_dir: Path | None) -> list[Path]:
    """Resolution order: SOUNDSCAPE_WEIGHTS_DIR, then the project's weights/ folder, then,
    for an entry whose file ships inside an installed Python package (``package``), the
    folder that package is installed in (``file`` then starts with the package's folder)."""
    roots = [weights_dir] if weights_dir else []
    roots.append(BUNDLED_DIR)
    installed = _package_root(entry.extra.get("package"))
    if installed is not None:
        roots.append(installed)
    return [Path(root) / entry.file for root in roots]


def _package_root(package: str | None) -> Path | None:
    """Where ``package`` is installed (site-packages), found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def resolve(
    name: str,
    weights_dir: Path | None,
    allow_download: bool = False,
    manifest: Path = MANIFEST_PATH,
) -> ResolvedWeights:
    """Find and verify the file of model ``name``; a specific error when absent or altered.

    Looks in ``weights_dir`` (SOUNDSCAPE_WEIGHTS_DIR), then weights/. Only when
    ``allow_download`` is True (SOUNDSCAPE_WEIGHTS_DOWNLOAD) is a missing file downloaded
    (into ``weights_dir``, else weights/) and verified; nothing downloads by default, and
    never during tests. A file present but altered raises WeightsChecksumError; a missing
    one WeightsMissingError, or WeightsDownloadError (a subclass) when fetching it failed.
    """
    entry = load_manifest(manifest)[name]
    for path in candidate_paths(entry, weights_dir):
        if path.is_file():
            return ResolvedWeights(entry, path, verify_file(entry, path))
    searched = ", ".join(str(p) for p in candidate_paths(entry, weights_dir))
    if not allow_download:
        raise WeightsMissingError(
            f"weights for {name} not found (looked for {searched}); download {entry.source} "
            f"to <weights dir>/{entry.file}, run 'soundscape weights fetch {name}', or set "
            f"SOUNDSCAPE_WEIGHTS_DOWNLOAD=1"
        )
    try:
        path = download(entry, Path(weights_dir) if weights_dir else BUNDLED_DIR)
    except WeightsChecksumError as exc:
        # Nothing was installed: the file is still missing, and a bad transfer is no
        # damaged install, so callers may treat it like any other failed download.
        raise WeightsDownloadError(f"{name}: downloaded file rejected: {exc.detail}") from exc
    return ResolvedWeights(entry, path, verify_file(entry, path))


def download(entry: ModelEntry, weights_dir: Path, timeout: float = CONNECT_TIMEOUT_S) -> Path:
    """Fetch ``entry.url`` to ``weights_dir / entry.file``, verified, via a temporary file.

    The bytes go to a temporary file beside the target, are checked against the manifest,
    then renamed into place atomically: a reader never sees a partial or unverified file,
    and a failed or tampered download leaves nothing behind (not even a new folder).
    """
    if not entry.url:
        raise WeightsDownloadError(
            f"{entry.name} has no direct download address: download it by hand from "
            f"{entry.source} to <weights dir>/{entry.file}"
        )
    target = Path(weights_dir) / entry.file
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    tmp: Path | None = None
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
        except OSError as exc:  # a read-only weights folder is a failed download, not a crash
            raise WeightsDownloadError(
                f"cannot write {entry.name} into {target.parent} ({exc.strerror or exc})"
            ) from exc
        tmp = Path(tmp_name)
        _stream_to(entry, entry.url, os.fdopen(fd, "wb"), timeout)
        verify_file(entry, tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        for folder in created:  # deepest first; only the folders this call made
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return target


def _stream_to(entry: ModelEntry, url: str, out: BinaryIO, timeout: float) -> None:
    import requests

    try:
        with out, requests.get(url, stream=True, timeout=(timeout, READ_TIMEOUT_S)) as response:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=1 << 20):
                out.write(chunk)
    except requests.RequestException as exc:
        raise WeightsDownloadError(
            f"could not download {entry.name} from {url} ({_reason(exc)}); "
            f"without internet access, copy the file to <weights dir>/{entry.file} by hand"
        ) from exc


def _reason(exc: Exception) -> str:
    """A few words on why a request failed, without urllib3's nested reprs."""
    text = str(exc)
    for needle, reason in (
        ("resolve", "host name not resolved"),
        ("refused", "connection refused"),
        ("timed out", "timed out"),
        ("unreachable", "network unreachable"),
    ):
        if needle in text.lower():
            return reason
    return f"{type(exc).__name__}: {text[:120]}"


def shipped_threshold(model_name: str) -> float:
    """The calibrated threshold of ``model_name`` from weights/manifest.yaml."""
    entry = load_manifest()[model_name]
    if "threshold" not in entry.extra:
        raise KeyError(
            f"{model_name} has no calibrated threshold in weights/manifest.yaml: "
            "run scripts/calibrate_thresholds.py"
        )
    return float(entry.extra["threshold"])


def music_thresholds(model_name: str) -> MusicThresholds:
    """The synthetic and authentic thresholds a mixture detector was calibrated with on real
    music (weights/manifest.yaml ``threshold`` and ``authentic_threshold``)."""
    from workers.networks.roles import MusicThresholds

    entry = load_manifest()[model_name]
    if "authentic_threshold" not in entry.extra:
        raise KeyError(f"{model_name} has no authentic_threshold in weights/manifest.yaml")
    return MusicThresholds(shipped_threshold(model_name), float(entry.extra["authentic_threshold"]))


def with_domain(info: ModelInfo) -> ModelInfo:
    """``info`` marked with its manifest ``domain`` and ``calibrated_on_music``."""
    entry = load_manifest()[info.name]
    return replace(
        info,
        domain=str(entry.extra.get("domain", "unknown")),
        calibrated_on_music=bool(entry.extra.get("calibrated_on_music", False)),
    )
