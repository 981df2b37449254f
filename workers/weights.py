"""The weights manifest and where each model's file is found, verified by sha256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.config import PROJECT_ROOT
from app.errors import WeightsChecksumError, WeightsMissingError

MANIFEST_PATH = PROJECT_ROOT / "weights" / "manifest.yaml"
BUNDLED_DIR = PROJECT_ROOT / "weights"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest; ``extra`` holds role-specific fields (window, threshold...)."""

    name: str
    role: str
    architecture: str
    file: str
    sha256: str
    licence: str
    trained_on: str
    url: str
    default: bool = False
    quality: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedWeights:
    entry: ModelEntry
    path: Path

    @property
    def sha256(self) -> str:
        return self.entry.sha256


_KNOWN = {"name", "role", "architecture", "file", "sha256", "licence", "trained_on", "url",
          "default", "quality"}


@lru_cache(maxsize=4)
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelEntry]:
    """Parse the manifest into entries keyed by model name."""
    raw = yaml.safe_load(path.read_text())
    entries: dict[str, ModelEntry] = {}
    for item in raw["models"]:
        known = {k: v for k, v in item.items() if k in _KNOWN}
        extra = {k: v for k, v in item.items() if k not in _KNOWN}
        entries[item["name"]] = ModelEntry(**known, extra=extra)
    return entries


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _verified(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_file(path) == expected


def candidate_paths(entry: ModelEntry, weights_dir: Path | None) -> list[Path]:
    """Resolution order: SOUNDSCAPE_WEIGHTS_DIR, then the project's weights/ folder."""
    roots = [weights_dir] if weights_dir else []
    roots.append(BUNDLED_DIR)
    return [Path(root) / entry.file for root in roots]


def resolve(name: str, weights_dir: Path | None) -> ResolvedWeights:
    """Find and verify the file of model ``name``; a specific error when absent or altered."""
    entry = load_manifest()[name]
    for path in candidate_paths(entry, weights_dir):
        if not path.is_file():
            continue
        stat = path.stat()
        if not _verified(path.resolve(), stat.st_size, stat.st_mtime_ns, entry.sha256):
            raise WeightsChecksumError(
                f"{path} does not match the sha256 of {name} in weights/manifest.yaml"
            )
        return ResolvedWeights(entry, path)
    searched = ", ".join(str(p) for p in candidate_paths(entry, weights_dir))
    raise WeightsMissingError(
        f"weights for {name} not found (looked for {searched}); "
        f"download {entry.url} into SOUNDSCAPE_WEIGHTS_DIR or run 'soundscape weights fetch'"
    )
