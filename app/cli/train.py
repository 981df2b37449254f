"""``soundscape train mixture``: the full-mix detector's whole recipe, seeded, on a corpus;
``soundscape train real-generators``: the same detector learned from real generators' output
(``training.recipes.real_generators``, leave-one-source-out); ``soundscape train singing``:
the singing detector (``training.recipes.singing``, leave-one-system-out); ``soundscape train
vocal-activity``: the vocal-activity classifier of the separate stage
(``training.recipes.vocal_activity``, leave-one-song-out on songs with karaoke note files).

The corpus is what ``soundscape data real-music`` builds. Training fits the generator zoo
on train excerpts, builds real and synthetic rows under codec conditions, chooses features
and classifier by leave-one-family-out validation, fits, and calibrates the threshold on
the calibration split; the checkpoint carries that report (``soundscape weights`` shows it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", required=True)
    mixture = sub.add_parser("mixture", help="train the full-mix synthetic-music detector")
    mixture.add_argument("--data", type=Path, required=True, help="corpus folder (manifest.json)")
    mixture.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    mixture.add_argument("--seed", type=int, default=0)
    mixture.add_argument("--excerpts-per-track", type=int, default=2)
    mixture.add_argument(
        "--generator-steps", type=int, default=100, help="Adam steps fitting each neural generator"
    )
    mixture.add_argument("--calibration-seconds", type=float, default=30.0)
    mixture.add_argument(
        "--max-tracks",
        type=int,
        default=None,
        help="at most this many tracks per split (a tiny budget for tests)",
    )
    mixture.add_argument(
        "--family",
        action="append",
        dest="families",
        metavar="NAME",
        help="generator families to train on (default: the whole zoo)",
    )
    mixture.add_argument(
        "--calibration-excerpts",
        type=int,
        default=2,
        help="excerpts per calibration track, each under every condition",
    )
    mixture.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    mixture.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder keeping fitted generators, feature rows and calibration features between runs",
    )
    mixture.add_argument("--report", type=Path, default=None, help="also write the report JSON")
    real = sub.add_parser(
        "real-generators",
        help="train the full-mix detector on real generators' output (soundscape-mix v3)",
    )
    real.add_argument("--real", type=Path, required=True, help="`data real-music` corpus")
    real.add_argument("--ai", type=Path, required=True, help="`data ai-music` corpus")
    real.add_argument("--singing", type=Path, default=None, help="`data singing` corpus")
    real.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    real.add_argument("--seed", type=int, default=0)
    real.add_argument("--candidate", action="append", dest="candidates", metavar="NAME",
                      help="candidates compared leave-one-source-out (default: all)")  # fmt: skip
    real.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    real.add_argument("--cache", type=Path, default=None, help="folder keeping feature rows")
    real.add_argument("--report", type=Path, default=None, help="also write the report JSON")
    sing = sub.add_parser("singing", help="train the singing detector (soundscape-sing)")
    sing.add_argument("--singing", type=Path, required=True, help="`data singing` corpus")
    sing.add_argument("--real", type=Path, required=True,
                      help="`data real-music` corpus (instrumental beds)")  # fmt: skip
    sing.add_argument("--songs", type=Path, default=None,
                      help="real songs with karaoke note files (calibration only)")  # fmt: skip
    sing.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    sing.add_argument("--seed", type=int, default=7)
    sing.add_argument("--candidate", action="append", dest="candidates", metavar="NAME",
                      help="candidates compared leave-one-system-out (default: all)")  # fmt: skip
    sing.add_argument("--weights-dir", type=Path, default=None,
                      help="the backbones' weights (default: SOUNDSCAPE_WEIGHTS_DIR)")  # fmt: skip
    sing.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    sing.add_argument("--cache", type=Path, default=None, help="folder keeping embedded windows")
    sing.add_argument("--report", type=Path, default=None, help="also write the report JSON")
    vad = sub.add_parser("vocal-activity", help="train the vocal-activity classifier")
    vad.add_argument("--songs", type=Path, required=True,
                     help="songs with karaoke note files (<name>.notes.txt)")  # fmt: skip
    vad.add_argument("--instrumental", type=Path, action="append", default=[], metavar="FILE",
                     help="a recording with no lead vocal, always fitted on")  # fmt: skip
    vad.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    vad.add_argument("--hidden", type=int, default=0, help="MLP width (0: logistic regression)")
    vad.add_argument("--seed", type=int, default=0)
    vad.add_argument("--report", type=Path, default=None, help="also write the report JSON")


def run(args: argparse.Namespace) -> int:
    if args.model == "real-generators":
        return _real_generators(args)
    if args.model == "singing":
        return _singing(args)
    if args.model == "vocal-activity":
        return _vocal_activity(args)

    from training.recipes.config import TrainConfig
    from training.recipes.mixture import train_mixture

    if not (args.data / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{args.data} holds no manifest.json: build it with "
            "`soundscape data real-music --out DIR`"
        )
    config = TrainConfig(
        seed=args.seed,
        calibration_excerpts=args.calibration_excerpts,
        excerpts_per_track=args.excerpts_per_track,
        generator_steps=args.generator_steps,
        calibration_seconds=args.calibration_seconds,
        max_tracks=args.max_tracks,
        workers=args.workers,
        cache_dir=args.cache,
    )
    if args.families:
        config = replace(config, families=tuple(args.families))
    report = train_mixture(args.data, args.out, config, _bars())
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    cal = report["calibration"]
    print(
        f"chose {report['candidate']}; threshold {cal['threshold']:.6g} "
        f"(FPR {cal['fpr']:.2%} on {cal['n']} calibration items, 95% CI "
        f"{cal['fpr_ci95'][0]:.2%}-{cal['fpr_ci95'][1]:.2%}); wrote {args.out}"
    )
    return 0


def _real_generators(args: argparse.Namespace) -> int:
    from training.excerpt_rows import ExcerptConfig
    from training.recipes.real_generators import CANDIDATES, RecipeConfig, train_real_generators

    for corpus, command in ((args.real, "real-music"), (args.ai, "ai-music"),
                            (args.singing, "singing")):  # fmt: skip
        if corpus is not None and not (corpus / "manifest.json").is_file():
            raise FileNotFoundError(
                f"{corpus} holds no manifest.json: build it with `soundscape data {command}`"
            )
    config = RecipeConfig(
        excerpts=ExcerptConfig(seed=args.seed),
        workers=args.workers,
        cache_dir=args.cache,
        candidates=tuple(args.candidates or CANDIDATES),
    )
    report = train_real_generators(args.real, args.ai, args.singing, args.out, config, _bars())
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    for name, result in report["leave_one_source_out"].items():
        held = " ".join(f"{h['source']}={h['detection']:.2f}" for h in result["held_out"])
        print(f"{name}: leave-one-source-out detection {result['mean_detection']:.3f} ({held})")
    cal, val = report["calibration"], report["validation"]
    val_fp = cal["validation_music"]
    print(
        f"chose {report['chosen']}; threshold {cal['threshold']:.6g} (set on {cal['n']} "
        f"calibration excerpts); validation music over it: {val_fp['tracks_over']} of "
        f"{val_fp['tracks']} tracks; validation detection "
        f"{val['detection']:.3f} of {val['fakes']} fakes; wrote {args.out}"
    )
    return 0


def _singing(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from training.recipes.singing import CANDIDATES, SingingConfig, train_singing
    from training.recipes.singing_windows import WindowsConfig

    for corpus, command in ((args.singing, "singing"), (args.real, "real-music")):
        if not (corpus / "manifest.json").is_file():
            raise FileNotFoundError(
                f"{corpus} holds no manifest.json: build it with `soundscape data {command}`"
            )
    if args.songs is not None and not args.songs.is_dir():
        raise FileNotFoundError(f"--songs {args.songs} is not a folder")
    windows = WindowsConfig(
        seed=args.seed,
        weights_dir=args.weights_dir or load_settings().weights_dir,
        cache_dir=args.cache,
        workers=args.workers,
    )
    config = SingingConfig(windows=windows, candidates=tuple(args.candidates or CANDIDATES))
    report = train_singing(args.singing, args.real, args.songs, args.out, config, _bars())
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    for name, result in report["leave_one_system_out"].items():
        det = result["mean_detection"]
        print(
            f"{name}: leave-one-system-out detection a cappella {det['acappella']:.3f}, "
            f"mixed {det['mixed']:.3f}"
        )
    cal = report["calibration"]["all"]
    print(
        f"chose {report['chosen']}; threshold {report['calibration']['threshold']:.6g}; "
        f"calibration reals over it: {cal['items_over']} of {cal['items']}; validation "
        f"detection a cappella {report['validation']['acappella']:.3f}, mixed "
        f"{report['validation']['mixed']:.3f}; wrote {args.out}"
    )
    return 0


def _vocal_activity(args: argparse.Namespace) -> int:
    from app.hashing import sha256_file
    from training.recipes.vocal_activity import VocalActivityConfig, train_vocal_activity

    if not args.songs.is_dir():
        raise FileNotFoundError(f"--songs {args.songs} is not a folder")
    config = VocalActivityConfig(hidden=args.hidden, seed=args.seed)
    report = train_vocal_activity(args.songs, args.out, config, args.instrumental)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    for key, title in (("leave_one_song_out", "leave-one-song-out"),
                       ("singer_split", f"fitted on {config.singer} only")):  # fmt: skip
        for row in report[key]:
            print(f"{title}: {row['song']} F1 {row['f1']:.3f} (threshold {row['threshold']})")
        print(f"{title}: mean F1 {report[key + '_mean_f1']:.3f}")
    digest = sha256_file(args.out)
    print(f"threshold {report['threshold']}; wrote {args.out} (sha256 {digest})")
    return 0


def _bars() -> Callable[[str, int, int], None]:
    """A progress callback drawing one tqdm bar per phase."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase) or bars.setdefault(phase, tqdm(total=total, desc=phase))
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
