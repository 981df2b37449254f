"""Small frozen types shared by every stage's result."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a stage's output: its name and the sha256 of its weights file.

    ``sha256`` is None only for weight-free methods (nothing to checksum).
    """

    name: str
    sha256: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "sha256": self.sha256}
