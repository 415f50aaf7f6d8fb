"""Pose extraction on every real clip in ../shared/data/lifts (slow; skipped without it).

Writes a per-clip detection-rate table to ``test-artifacts/pose_detection.md``
and prints it. Nothing from the clips is stored in the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from formcheck.pipeline import pose_cached
from formcheck.sequence import PoseSequence

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def _labels(shared_lifts: Path) -> dict[str, dict]:
    data = json.loads((shared_lifts / "labels.json").read_text())
    clips = data if isinstance(data, list) else data.get("clips", list(data.values()))
    return {c["file"]: c for c in clips}


@pytest.mark.slow
def test_every_real_clip_yields_a_pose_sequence(shared_lifts: Path, real_pose_cache: Path) -> None:
    labels = _labels(shared_lifts)
    clips = sorted((shared_lifts / "videos").glob("*.mp4"))
    assert clips, "no clips in the shared videos folder"
    rows = []
    failures = []
    for clip in clips:
        try:
            # extracted once per test run and shared with the evaluation test (tests/test_real_eval.py)
            seq, _, _ = pose_cached(clip, model="full", cache_dir=real_pose_cache)
        except (ValueError, RuntimeError, OSError) as exc:
            failures.append(f"{clip.name}: {type(exc).__name__}: {exc}")
            continue
        assert isinstance(seq, PoseSequence)
        s = seq.meta.get("stats", {})
        assert seq.n_frames > 0
        assert np.all(np.diff(seq.t_ms) > 0)
        lab = labels.get(clip.name, {})
        rows.append((clip.name, lab.get("lift", "?"), lab.get("view", "?"), lab.get("usable", "?"),
                     lab.get("people_in_frame", "?"), seq.n_frames, 100.0 * seq.detection_rate,
                     s.get("n_tracks", "?"), s.get("num_poses", "?"), s.get("workers", "?"),
                     s.get("realtime_factor", float("nan"))))
    header = ("| clip | lift | view | usable | people | frames | detected % | tracks | poses | workers | x real time |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.1f} | {r[7]} | {r[8]} | "
                   f"{r[9]} | {r[10]:.2f} |\n" for r in rows)
    usable = [r[6] for r in rows if r[3] is True]
    summary = (f"\n{len(rows)} clips, mean detection {np.mean([r[6] for r in rows]):.1f}% "
               f"(usable clips: {np.mean(usable) if usable else float('nan'):.1f}%)\n")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "pose_detection.md").write_text("# Pose detection on the real clips\n\n" + header + body + summary)
    print("\n" + header + body + summary)
    assert not failures, "\n".join(failures)
    assert usable and np.mean(usable) >= 80.0
