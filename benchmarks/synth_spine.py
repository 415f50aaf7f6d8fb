"""Silhouette back estimate against the kinematic athlete's true flexion (issue #6).

Run from the repository root::

    nice python benchmarks/synth_spine.py

For each lift (side view, three reps, MediaPipe-like landmark errors, seed 1)
and each injected flexion on the middle rep (lumbar only, and lumbar + thoracic
split 1:2), the silhouette is drawn from the model's own spine chain
(``tests/support/silhouette_sim.py``: discs swept along hip centre -> L5 ->
T12 -> C7 and the legs), the whole analysis runs with those masks, and the
script prints: the correlation and least-squares slope of the per-frame
estimate (``spine_flexion_deg``) against the true flexion (lumbar + thoracic),
the RMS error after that slope, the rep measure of the faulty rep and of the
clean reps, and whether only the faulty rep is flagged. These silhouettes are
ideal (no clothes, no occlusion, exact outline): the numbers bound what the
method can do, not what it does on video.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def main() -> int:
    from formcheck.analysis import analyze_sequence
    from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence
    from support.silhouette_sim import kinematic_masks
    from tools.synth.kinematics import Fault

    print("| lift | injected (lumbar + thoracic) deg | corr | slope | RMS err deg | faulty rep | other reps max | "
          "as expected (only the faulty rep flagged; nothing when 0) |")
    print("|---|---|---|---|---|---|---|---|")
    for lift in ("squat", "deadlift"):
        for lum, tho in ((0, 0), (10, 0), (15, 0), (20, 0), (30, 0), (40, 0), (5, 10), (10, 20)):
            sim = simulate_sequence(lift, 0.0, 3, corruption=MEDIAPIPE_LIKE.with_seed(1),
                                    faults={1: Fault(lumbar_deg=float(lum), thoracic_deg=float(tho))}, seed=0)
            a = analyze_sequence(sim.seq, lift=lift, masks=kinematic_masks(sim.truth))
            truth = sim.truth.lumbar_deg + sim.truth.thoracic_deg
            est = a.spine.flexion_deg
            ok = np.isfinite(est)
            corr = slope = rms = float("nan")
            if truth[ok].std() > 0:
                corr = float(np.corrcoef(est[ok], truth[ok])[0, 1])
                slope, icpt = np.polyfit(truth[ok], est[ok], 1)
                rms = float(np.sqrt(np.mean((est[ok] - (slope * truth[ok] + icpt)) ** 2)) / slope)
            gt = sim.truth.reps[1]
            vals, faulty = [], None
            for r in a.report.reps:
                v = r["measures"].get("rounded_back", {}).get("value")
                if r["start_ms"] - 300 <= gt.bottom_ms <= r["end_ms"] + 300 and faulty is None:
                    faulty = (r["rep"], v)
                else:
                    vals.append(v)
            flagged = sorted({f["rep"] for f in a.report.flags if f["code"] == "rounded_back"})
            if lum + tho == 0:
                only = flagged == []
            else:
                only = flagged == [faulty[0]] if faulty else False
            others = max((v for v in vals if v is not None), default=float("nan"))
            print(f"| {lift} | {lum} + {tho} | {corr:.3f} | {slope:.2f} | {rms:.1f} | "
                  f"{(faulty[1] if faulty else float('nan')):.1f} | {others:.1f} | {'yes' if only else 'no'} "
                  f"{flagged} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
