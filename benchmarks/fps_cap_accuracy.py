"""Does the pose pass's frame-rate cap change results? Rep counts and flags with and without it.

Run from the repository root (under ``nice`` on a shared machine)::

    nice python benchmarks/fps_cap_accuracy.py --cache /work/cache/poses

A cheaper screen of a candidate cap needs no extraction: ``formcheck eval ... --cache DIR --out A`` and the
same with ``--analysis-fps CAP --out B`` (the cached every-frame poses thinned to the frames a capped pass
would analyse), then ``python benchmarks/fps_cap_accuracy.py --compare A B`` lists the clips that differ.

For every usable labelled clip (``--all``: every one) whose frames the cap thins (``labels.json`` ``fps`` at
least twice ``[pose] analysis_fps`` of ``formcheck/config/calibration.toml``, see
:func:`formcheck.pose.analysis_step_ms`) it analyses
the clip twice, both with silhouettes and the deadlift bar check, as
``formcheck analyze`` does: once from every frame (the pose from ``--cache``
when it is there: the evaluation cache holds every-frame poses) and once with
the cap (extracted now). It prints one row per clip (frames analysed, pose
seconds of the capped run, rep count, flags as ``rep:code``) and a last line
saying how many clips gave the same reps and flags. Only the capped
extraction is heavy (about half the frames of the clip).

The labels and clips live outside the repository (``../shared/data/lifts``);
when they are missing the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = REPO.parent / "shared" / "data" / "lifts"


def _report(path: Path, seq: Any, masks: Any) -> dict[str, Any]:
    from formcheck.analysis import analyze_sequence
    from formcheck.pipeline import with_bar_check

    def run(not_reps=(), extra_warnings=(), extra=None):  # noqa: ANN001, ANN202
        return analyze_sequence(seq, source={"file": path.name}, not_reps=not_reps, warnings=list(extra_warnings),
                                extra=extra, masks=masks)

    return with_bar_check(path, run(), run).report.to_dict()


def _summary(rep: dict[str, Any]) -> tuple[int, tuple[str, ...], dict[str, str]]:
    return (rep["rep_count"], tuple(f"{f['rep']}:{f['code']}" for f in rep["flags"]), dict(rep["verdicts"]))


def compare_evals(every: Path, capped: Path) -> int:
    """Per-clip differences between two ``formcheck eval --out`` runs (``eval.json``): every frame, capped.

    Prints the clips whose rep count, flags (``rep:code``) or borderline readings differ, and a count.
    """
    def load(p: Path) -> dict[str, Any]:
        d = json.loads((p / "eval.json" if p.is_dir() else p).read_text(encoding="utf-8"))
        return d["reports"]

    ra, rb = load(every), load(capped)
    print("| clip | reps every / capped | flags every | flags capped | borderline every | borderline capped |")
    print("|---|---|---|---|---|---|")
    diff_reps = diff_flags = diff_border = 0
    for name in sorted(set(ra) | set(rb)):
        a, b = ra.get(name), rb.get(name)
        if not a or not b:
            print(f"| {name} | failed: every {a is None}, capped {b is None} | | | | |")
            continue
        fa, fb = _summary(a)[1], _summary(b)[1]
        ba = tuple(f"{x.get('rep')}:{x.get('code')}" for x in a.get("borderline", []))
        bb = tuple(f"{x.get('rep')}:{x.get('code')}" for x in b.get("borderline", []))
        if (a["rep_count"], fa, ba) == (b["rep_count"], fb, bb):
            continue
        diff_reps += a["rep_count"] != b["rep_count"]
        diff_flags += fa != fb
        diff_border += ba != bb
        print(f"| {name} | {a['rep_count']} / {b['rep_count']} | {' '.join(fa) or '-'} | {' '.join(fb) or '-'} | "
              f"{' '.join(ba) or '-'} | {' '.join(bb) or '-'} |")
    print(f"\n{len(set(ra) & set(rb))} clips: rep count differs on {diff_reps}, flags on {diff_flags}, "
          f"borderline readings on {diff_border}")
    by_code: dict[str, list[str]] = {}
    for name in sorted(set(ra) & set(rb)):
        a, b = ra[name], rb[name]
        if not a or not b:
            continue
        fa, fb = set(_summary(a)[1]), set(_summary(b)[1])
        for code in sorted({f.split(":", 1)[1] for f in fa ^ fb}):
            by_code.setdefault(code, []).append(name)
    for code, names in sorted(by_code.items()):
        print(f"- {code}: flags differ on {len(names)} clip(s): {', '.join(names)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lifts", type=Path, default=DEFAULT_LIFTS,
                    help="folder with labels.json and the clips (in it or in its videos/ folder)")
    ap.add_argument("--cache", type=Path, default=None, help="pose cache of every-frame poses (formcheck eval's)")
    ap.add_argument("--model", default="full")
    ap.add_argument("--all", action="store_true", help="also the clips labelled not usable")
    ap.add_argument("--only", action="append", help="only this clip (file name; repeat)")
    ap.add_argument("--max-stride", type=int, default=None,
                    help="the adaptive stride to check (formcheck/stride.py; default: [pose] max_stride). With 2 or "
                         "more every clip is checked, and the reference is the cached every-frame pose thinned to "
                         "the frames the cap alone keeps (the policy without the stride)")
    ap.add_argument("--fresh", action="store_true",
                    help="extract the every-frame poses now instead of taking them from --cache (a control: "
                         "does a fresh every-frame extraction match the cached one?)")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("EVERY", "CAPPED"),
                    help="instead: compare two `formcheck eval --out` folders clip by clip (e.g. without and with "
                         "--analysis-fps) and print the clips whose reps, flags or borderline readings differ")
    args = ap.parse_args(argv)
    if args.compare:
        return compare_evals(*args.compare)
    labels = args.lifts / "labels.json"
    if not labels.is_file():
        print(f"no labels at {labels}: nothing to run")
        return 0
    from formcheck.pipeline import pose_cached
    from formcheck.pose import PoseParams, analysis_step_ms, extract_pose, thin_to_cap

    cap, max_step = PoseParams.packaged().analysis_fps, PoseParams.packaged().max_frame_step
    stride = PoseParams.packaged().max_stride if args.max_stride is None else args.max_stride

    def thinned(fps: float) -> bool:  # the cap (or the stride) skips frames of a clip filmed at this rate
        step = analysis_step_ms(fps, cap, max_step)
        return fps > 0 and (stride > 1 or (step is not None and step * fps / 1000.0 > 1.5))

    clips = [c for c in json.loads(labels.read_text(encoding="utf-8"))
             if thinned(float(c.get("fps") or 0)) and (args.all or c.get("usable", True))
             and (not args.only or c["file"] in args.only)]
    print(f"cap {cap:g} fps, max_stride {stride}; {len(clips)} labelled clips whose frames it thins; "
          f"model {args.model}")
    print("| clip | fps | frames every / capped | capped pose s | reps every / capped | flags every | flags capped | same |")
    print("|---|---|---|---|---|---|---|---|")
    same = 0
    for c in clips:
        path = args.lifts / "videos" / c["file"]
        if not path.is_file():
            path = args.lifts / c["file"]
        seq_all, _, masks_all = pose_cached(path, model=args.model, cache_dir=None if args.fresh else args.cache,
                                            masks=True)
        if stride > 1:  # the reference: the policy without the stride (the cap alone), from the cache
            from formcheck.video import probe
            seq_all, masks_all = thin_to_cap(seq_all, masks_all, probe(path).fps_nominal, cap, max_step)
        t0 = time.perf_counter()
        capped = extract_pose(path, model=args.model, keep_masks=True, max_stride=stride)
        secs = time.perf_counter() - t0
        ra, rb = _report(path, seq_all, masks_all), _report(path, capped.sequence, capped.masks)
        a, b = _summary(ra), _summary(rb)
        ok = a[:2] == b[:2]
        same += ok
        print(f"| {c['file']} | {c['fps']:g} | {seq_all.n_frames} / {capped.sequence.n_frames} | {secs:.1f} | "
              f"{a[0]} / {b[0]} | {' '.join(a[1]) or '-'} | {' '.join(b[1]) or '-'} | {'yes' if ok else 'NO'} |",
              flush=True)
        if a[2] != b[2]:
            diff = {k: (a[2].get(k), b[2].get(k)) for k in set(a[2]) | set(b[2]) if a[2].get(k) != b[2].get(k)}
            print(f"|   verdicts differ: {diff} | | | | | | | |", flush=True)
            for code in diff:
                def vals(rep):  # noqa: ANN001, ANN202
                    return [r["measures"].get(code, {}).get("value") for r in rep["reps"]]
                print(f"|   {code} per rep, every frame {vals(ra)}, capped {vals(rb)}; limit "
                      f"{[f['limit'] for f in ra['flags'] + rb['flags'] if f['code'] == code][:1]} | | | | | | | |",
                      flush=True)
    print(f"\nsame rep count and flags with and without the cap: {same} of {len(clips)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
