"""The licence of a corpus file: a Debian copyright file (machine-readable DEP-5 or free
text) for a package's files, the note beside a file of the shared folder."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path


def shared_licence(path: Path) -> str:
    """The licence named in the `.txt` or `.license.txt` beside a shared file."""
    note = _licence_note(path)
    if note is None:
        return "unknown"
    return licence_from_text(note.read_text(encoding="utf-8", errors="replace"))


def _licence_note(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".txt"), path.with_suffix(".license.txt")):
        if candidate.is_file():
            return candidate
    # "X_instrumental.mp3" shares "X.license.txt" with its vocal version.
    notes = sorted(path.parent.glob("*.license.txt"), key=lambda p: -len(p.name))
    return next(
        (n for n in notes if path.name.startswith(n.name.removesuffix(".license.txt"))), None
    )


def licence_for(copyright_text: str, path_in_package: str) -> str:
    """The licence of one file from a Debian copyright file.

    A machine-readable (DEP-5) file's stanzas name source-tree paths; the last stanza with a
    pattern matching the installed path or one of its tails (`data/music/*` matches
    `usr/share/games/x/data/music/a.ogg`) wins. Other files give their package-level licence.
    """
    stanzas = [s for s in re.split(r"\n\s*\n", copyright_text) if s.strip()]
    if not stanzas or not stanzas[0].startswith("Format:"):
        return licence_from_text(copyright_text)
    parts = path_in_package.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    licence = "unknown"
    for stanza in stanzas[1:]:
        fields = _dep5_fields(stanza)
        patterns = fields.get("Files", "").split()
        if any(fnmatch.fnmatchcase(t, p) for p in patterns for t in tails) and "License" in fields:
            licence = fields["License"].splitlines()[0].strip()
    return licence


def _dep5_fields(stanza: str) -> dict[str, str]:
    """Field name to value; continuation lines (leading space) join their field."""
    fields: dict[str, str] = {}
    name = ""
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += "\n" + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            fields[name] = value.strip()
    return fields


def licence_from_text(text: str) -> str:
    """A short licence name from free text: a Creative Commons URL, the GPL wording, or a
    `License:` line."""
    flat = " ".join(text.split())
    cc = re.search(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)?", flat)
    if cc:
        kind, terms, version = cc.groups()
        if kind == "publicdomain":
            return "CC0-1.0" if terms == "zero" else "public-domain"
        return f"CC-{terms.upper()}" + (f"-{version}" if version else "")
    gpl = re.search(r"(Lesser |Library )?General Public License.{0,120}?version (\d)", flat)
    if gpl:
        name = "LGPL" if gpl.group(1) else "GPL"
        later = "+" if re.search(r"any later version", flat) else ""
        return f"{name}-{gpl.group(2)}{later}"
    if re.search(r"\bpublic domain\b", flat, re.IGNORECASE):
        return "public-domain"
    line = re.search(r"^Licen[cs]e:[ \t]*(\S.*)$", text, re.MULTILINE)
    return line.group(1).strip() if line else "unknown"
