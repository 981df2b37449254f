"""Build the real-music corpus (Debian game soundtracks and shared songs) into a folder.

Usage: python scripts/build_music_corpus.py --out DIR [--shared ../shared] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.corpus.real_music import SPLITS, CorpusError, TrackRecord, build_corpus  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to create")
    parser.add_argument(
        "--shared", type=Path, default=Path("../shared"), help="shared folder (relative: to repo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/validation split")
    args = parser.parse_args(argv)
    shared = args.shared if args.shared.is_absolute() else PROJECT_ROOT / args.shared
    try:
        records = build_corpus(args.out, shared, seed=args.seed, progress=print_progress)
    except CorpusError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    print()
    print(summarise(records))
    return 0


def print_progress(message: str) -> None:
    print(f"\r\033[K{message[:100]}", end="", flush=True)


def summarise(records: list[TrackRecord]) -> str:
    """Tracks per source and split, hours per split, and the licences seen."""
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    hours: defaultdict[str, float] = defaultdict(float)
    for record in records:
        per_source[record.source][record.split] += 1
        hours[record.split] += record.duration_seconds / 3600
    lines = [f"{'source':<32}" + "".join(f"{s:>12}" for s in SPLITS) + f"{'total':>8}"]
    for source in sorted(per_source):
        counts = per_source[source]
        row = "".join(f"{counts[s]:>12}" for s in SPLITS)
        lines.append(f"{source:<32}{row}{sum(counts.values()):>8}")
    lines.append(f"{'hours':<32}" + "".join(f"{hours[s]:>12.2f}" for s in SPLITS))
    lines.append(f"{len(records)} tracks, {sum(hours.values()):.2f} hours")
    licences = Counter(record.licence for record in records)
    lines.append("licences: " + ", ".join(f"{name} ({n})" for name, n in licences.most_common()))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
