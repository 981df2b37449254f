"""``soundscape data``: build the real-music corpus, and labelled evaluation sets from it.

``data real-music --out DIR`` fetches Debian's game-music packages (``apt-get download``,
unpacked with ``dpkg-deb -x``: no root, nothing installed) and the shared real songs, decodes
every music file to 44.1 kHz FLAC and splits by track into train / validation / calibration
(``DIR/manifest.json`` records package, licence, duration and split per track).

``data ai-music --out DIR REPO...`` (and ``data singing``) read the generated songs and the
real references that a reviewed source list (``training/sources/ai-music.yaml``,
``singing.yaml``) names from local copies of public demo repositories (clones, or bare
snapshots read with ``git show``), decode each to FLAC at its own rate and split by song.

``data fakes --corpus DIR --out EVAL`` cuts excerpts of one split and writes them as
``EVAL/real/`` and, re-synthesised by every generator of the zoo, ``EVAL/fake/<generator>/``,
each through the same codec condition: the layout ``soundscape evaluate`` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.config import PROJECT_ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    real = sub.add_parser("real-music", help="build the real-music corpus")
    real.add_argument("--out", type=Path, required=True, help="corpus folder to create or update")
    real.add_argument(
        "--shared",
        type=Path,
        default=PROJECT_ROOT.parent / "shared",
        help="the shared folder with audio/ and audio/songs/ (default: ../shared)",
    )
    real.add_argument("--seed", type=int, default=0, help="seed of the by-track split")
    for action, what in (("ai-music", "AI-generated songs"), ("singing", "sung verses")):
        demo = sub.add_parser(action, help=f"build the corpus of {what} from demo repositories")
        demo.add_argument("--out", type=Path, required=True, help="corpus folder to write")
        demo.add_argument(
            "repos", nargs="+", type=Path, metavar="REPO", help="local copies of the sources"
        )
        demo.add_argument("--sources", type=Path, default=None, help=argparse.SUPPRESS)
        demo.add_argument("--seed", type=int, default=0, help="seed of the by-song split")
    fakes = sub.add_parser("fakes", help="write real/ and fake/<generator>/ excerpts of a split")
    fakes.add_argument("--corpus", type=Path, required=True, help="a built corpus folder")
    fakes.add_argument("--out", type=Path, required=True, help="evaluation folder to write")
    fakes.add_argument(
        "--split", default="validation", choices=("train", "validation", "calibration")
    )
    fakes.add_argument("--seconds", type=float, default=20.0, help="excerpt length")
    fakes.add_argument("--condition", default="mp3-128", help="codec condition for every file")
    fakes.add_argument("--max-tracks", type=int, default=None)
    fakes.add_argument(
        "--generator",
        action="append",
        dest="generators",
        metavar="NAME",
        help="only these generators (default: the whole zoo)",
    )
    fakes.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.action == "real-music":
        return _real_music(args)
    if args.action in ("ai-music", "singing"):
        return _demo_pages(args)
    return _fakes(args)


def _demo_pages(args: argparse.Namespace) -> int:
    from training.corpus.demo_pages import SOURCES_DIR, build_demo_corpus

    source_list = args.sources or SOURCES_DIR / f"{args.action}.yaml"
    missing = [str(repo) for repo in args.repos if not repo.is_dir()]
    if missing:
        raise ValueError(f"not a folder: {', '.join(missing)}")
    records = build_demo_corpus(
        source_list, args.repos, args.out, seed=args.seed, progress=lambda m: print(m, flush=True)
    )
    counts: dict[tuple[str, str], int] = {}
    for record in records:
        counts[(record.kind, record.split)] = counts.get((record.kind, record.split), 0) + 1
    print(
        f"{len(records)} items in {args.out}: "
        + ", ".join(f"{kind} {split} {n}" for (kind, split), n in sorted(counts.items()))
    )
    return 0


def _real_music(args: argparse.Namespace) -> int:
    from training.corpus.real_music import build_corpus

    records = build_corpus(
        args.out, args.shared, seed=args.seed, progress=lambda message: print(message, flush=True)
    )
    hours: dict[str, float] = {}
    for record in records:
        hours[record.split] = hours.get(record.split, 0.0) + record.duration_seconds / 3600
    print(
        f"{len(records)} tracks in {args.out}: "
        + ", ".join(f"{split} {h:.2f} h" for split, h in sorted(hours.items()))
    )
    return 0


def _fakes(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from training.evaluation.fake_set import FakeSetConfig, write_fake_set

    config = FakeSetConfig(
        split=args.split,
        seconds=args.seconds,
        condition=args.condition,
        generators=tuple(args.generators or ()),
        max_tracks=args.max_tracks,
        seed=args.seed,
    )
    n_real, n_fake = write_fake_set(
        args.corpus, args.out, config, lambda tracks: tqdm(tracks, desc=f"{args.split} tracks")
    )
    print(f"wrote {n_real} real and {n_fake} fake excerpts to {args.out}")
    return 0
