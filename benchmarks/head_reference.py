"""The head proxy's reading on every rep of the labelled real clips, under other reference windows.

Run from the repository root (poses from the cache, as ``formcheck eval --cache``)::

    nice python benchmarks/head_reference.py --cache /work/cache/poses [--head-reference-ms 10000 ...]

For each window given (``MetricParams.head_reference_ms``, the upright reference's running
window; ``--face-window-ms`` the face test's) it analyses every labelled clip without silhouettes
(so the head-and-shoulders proxy judges every rep), reads ``head_drop_max`` and the rounded-back
verdict of each rep, and compares them with the packaged settings: how many readings moved by
more than 0.5 degree, the largest move, and every rep whose verdict changed (with its hand label).
These are the figures behind ``head_reference_ms`` and ``face_window_ms`` in
``formcheck/config/calibration.toml``. About 1.5 minutes per setting on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = REPO.parent / "shared" / "data" / "lifts"


def _readings(lifts: Path, cache: Path | None) -> dict[tuple[str, int], tuple[float, str, str]]:
    """(clip, rep) -> (head_drop_max, rounded_back verdict, hand label of the nearest labelled rep)."""
    from formcheck.pipeline import analyze_for_eval

    out = {}
    for clip in json.loads((lifts / "labels.json").read_text()):
        report = analyze_for_eval(lifts / "videos" / clip["file"], cache_dir=cache, masks=False)
        for rep in report.get("reps", []):
            m = rep["measures"].get("rounded_back") or {}
            near = [r for r in clip.get("reps") or [] if abs(r["bottom_s"] * 1000.0 - rep["bottom_ms"]) < 800.0]
            label = near[0]["faults"].get("rounded_back", "?") if near else "-"
            value = m.get("value") if m.get("measure") == "head_drop_max" else None
            out[(clip["file"], rep["rep"])] = (float("nan") if value is None else float(value),
                                               rep["verdicts"].get("rounded_back", "-"), label)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lifts", type=Path, default=DEFAULT_LIFTS)
    ap.add_argument("--cache", type=Path, default=None, help="pose cache folder (default: extract again)")
    ap.add_argument("--head-reference-ms", type=float, nargs="*", default=[6000.0, 10000.0, 20000.0, 30000.0])
    ap.add_argument("--face-window-ms", type=float, nargs="*", default=[], help="face-test windows to try too")
    args = ap.parse_args(argv)
    if not (args.lifts / "labels.json").is_file():
        print(f"head_reference: {args.lifts}/labels.json not found; nothing to read (skipped).")
        return 0

    from formcheck.metrics import MetricParams

    packaged = MetricParams.packaged()
    def restore() -> None:
        if "packaged" in MetricParams.__dict__:
            del MetricParams.packaged  # back to the base class's

    try:
        base = _readings(args.lifts, args.cache)
        tries = [("head_reference_ms", w) for w in args.head_reference_ms]
        tries += [("face_window_ms", w) for w in args.face_window_ms]
        print(f"packaged: head_reference_ms = {packaged.head_reference_ms:g}, face_window_ms = "
              f"{packaged.face_window_ms:g}; {len(base)} reps\n")
        print("| setting | readings moved > 0.5 deg | largest move (deg) | verdicts changed |")
        print("|---|---|---|---|")
        changed_lines = []
        for key, value in tries:
            params = replace(packaged, **{key: value})
            MetricParams.packaged = classmethod(lambda cls, _p=params: _p)
            other = _readings(args.lifts, args.cache)
            restore()
            moves, changed = [], []
            for k, (v0, verdict0, label) in base.items():
                v1, verdict1, _ = other.get(k, (float("nan"), "-", label))
                if np.isfinite(v0) and np.isfinite(v1):
                    moves.append(abs(v1 - v0))
                if verdict1 != verdict0:
                    changed.append(f"- {key} = {value:g}: {k[0]} rep {k[1]}: {v0:.2f} {verdict0} -> "
                                   f"{v1:.2f} {verdict1} (label {label})")
            big = sum(d > 0.5 for d in moves)
            print(f"| {key} = {value:g} | {big} | {max(moves, default=0.0):.1f} | {len(changed)} |")
            changed_lines += changed
        print()
        print("\n".join(changed_lines) if changed_lines else "no verdict changed")
    finally:
        restore()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
