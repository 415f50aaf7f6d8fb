"""How often the deadlift bar check (formcheck/barcheck.py) drops a rise, by what the rise really was.

The rep-count stress suite (``tests/test_rep_stress.py``) feeds the clip pipeline's bar-check decision
a simulated check per candidate rep; its rates come from this script. Run from the repository root::

    nice python benchmarks/barcheck_rates.py \\
        --renders /work/cache/viewrenders --samples sample_videos \\
        --render-bends /work/cache/barcheck_bends --real-eval /tmp/NAME_eval/eval.json

Rendered clips (``tools/synth``, a loaded bar): every ``*deadlift*.mp4`` with a ``.json`` beside it
holding the true reps (``reps[].end_ms``, lockout reached). The synthetic deadlift timeline always ends
with the set-down, the grip let go and a stand-up without the bar, so each clip holds its true pulls
and one stand-up. Each clip goes through the pipeline's own path: pose (``formcheck.pipeline.pose_cached``,
cached in ``<dir>/poses``), :func:`formcheck.analysis.analyze_sequence` as a deadlift, then
:func:`formcheck.pipeline.deadlift_bar_checks` on the decoded frames. A candidate rep whose lockout
lies within ``MATCH_MS`` of a true rep's is a pull; any other is a rise without the bar.

Real clips (``--real-eval``: the ``eval.json`` written by ``formcheck eval ... --out DIR``; or
``--real-labels labels.json --real-cache DIR``: the deadlift clips run here through the path `formcheck eval`
takes, from poses already cached): the bar check's entry of every deadlift candidate rep
(``report.extra["bar_check"]``). No labelled real clip
holds a stand-up after the set-down, so each is a pull (or a miscounted motion, never a bar-free rise).

Printed: one line per rendered candidate, then the counts of "bar stayed" (dropped) by kind of rise
and by the frame the check compares with, from where the rep's lowering began ("bar in hand" when the
rise before was a pull; "bar on the floor" for the first counted rep or after a rise without the bar;
the first counted reps also on a line of their own), then per rendered clip its true pulls, the count from the
landmarks alone and the pipeline's count after the bar check; the same as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: A candidate whose lockout is this close to a true rep's lockout is that pull (ms).
MATCH_MS = 600.0


def _before_states(kinds: list[str]) -> list[str]:
    """Per candidate (in order): the frame its check compares with, where its lowering began: "bar in hand"
    (the candidate before it was a pull: its lowering starts at that lockout) or "bar on the floor" (the
    first counted rep: nothing was lifted before it; or after a rise without the bar)."""
    return ["bar in hand" if i and kinds[i - 1] == "pull" else "bar on the floor" for i in range(len(kinds))]


def rendered_candidates(mp4: Path, cache: Path, model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per candidate deadlift rep of one rendered clip: kind (pull / stand-up / bend), before frame, decision;
    and the clip's counts: true pulls, the landmark-level count (before the check) and the pipeline's count
    (after :func:`formcheck.pipeline.with_bar_check`, the clip pipeline's own step)."""
    from formcheck.analysis import analyze_sequence
    from formcheck.pipeline import FrameBank, deadlift_bar_checks, pose_cached, with_bar_check

    truth = json.loads(mp4.with_suffix(".json").read_text(encoding="utf-8"))
    true_ends = [float(r["end_ms"]) for r in truth["reps"]]
    bend_tops = [float(top) for _, top in truth.get("bends", [])]
    seq, _sha, _ = pose_cached(mp4, model=model, cache_dir=cache)

    def run(not_reps=(), extra_warnings=(), extra=None):  # noqa: ANN001, ANN202 - the pipeline's re-run hook
        return analyze_sequence(seq, lift="deadlift", not_reps=not_reps, warnings=list(extra_warnings), extra=extra)

    first = run()
    bank = FrameBank(mp4, max(seq.frame_w, seq.frame_h))
    checks = deadlift_bar_checks(mp4, first, frames=bank)
    final = with_bar_check(mp4, first, run, frames=bank)
    kinds = ["pull" if any(abs(rep.end_ms - e) <= MATCH_MS for e in true_ends)
             else "bend" if any(abs(rep.end_ms - e) <= MATCH_MS for e in bend_tops) else "stand-up"
             for rep, _ in checks]
    out = []
    for (rep, check), kind, before in zip(checks, kinds, _before_states(kinds)):
        out.append({"clip": mp4.stem, "rep": rep.index, "bottom_ms": round(rep.bottom_ms, 1),
                    "end_ms": round(rep.end_ms, 1), "kind": kind, "before_frame": before,
                    "decision": check.decision, "patch_ncc": check.patch_ncc, "before_ncc": check.before_ncc,
                    "before_floor_ncc": check.before_floor_ncc,
                    "background_ncc": check.background_ncc, "reason": check.reason})
    counts = {"clip": mp4.stem, "truth": len(true_ends), "landmarks": first.report.rep_count,
              "pipeline": final.report.rep_count}
    return out, counts


#: Bend clips (``--render-bends``): camera azimuth (deg), camera height (m), body, facing.
BEND_GRID = ((0.0, 0.8, "base", "left"), (10.0, 1.5, "broad", "right"), (20.0, 0.8, "slim", "right"),
             (5.0, 1.5, "slim", "left"), (45.0, 0.8, "broad", "left"), (0.0, 1.5, "broad", "right"))
BEND_FPS = 12.0
BODIES: dict[str, tuple[float, float, float]] = {"base": (1.0, 1.0, 1.0), "broad": (1.08, 1.0, 1.15),
                                                  "slim": (0.92, 1.06, 0.90)}


def render_bend_clip(az: float, height_m: float, body: str, facing: str, out_dir: Path) -> Path:
    """A deadlift clip that opens with two bends to the bar and back up WITHOUT taking it (the bar stays
    on the floor, as when loading plates), then one pull, the set-down and the stand-up without the bar.

    The bends are the kinematic model's own approach to the bar (the hinge down to the grip, not gripped),
    played down and back up. Truth JSON: ``reps`` (the pull: ``end_ms`` = lockout reached) and ``bends``
    (``[bottom_ms, top_ms]`` of each bend).
    """
    from dataclasses import replace

    import numpy as np

    from formcheck.video import VideoWriter
    from tools.synth.body import load_mesh
    from tools.synth.kinematics import Camera, simulate
    from tools.synth.render import Renderer

    mesh = load_mesh()
    sc = np.asarray(BODIES[body], float)
    mesh = replace(mesh, vertices_m=mesh.vertices_m * sc,
                   joints={k: np.asarray(v) * sc for k, v in mesh.joints.items()})
    cam = Camera(azimuth_deg=az, facing=facing, height_m=height_m)
    setup_s = 0.6
    sim = simulate("deadlift", reps=1, fps=BEND_FPS, setup_s=setup_s, end_s=0.6, camera=cam, body=mesh.body(),
                   seed=int(az) + int(100 * height_m), equipment="barbell")
    # the approach: from the end of the standing set-up to the grip (the phase is "setup" throughout)
    i0 = int(round(setup_s * BEND_FPS))
    i1 = next(i for i in range(i0, sim.n_frames) if sim.phase[i] == "pull") - int(round(0.4 * BEND_FPS))
    down = list(sim.controls[i0:i1])
    stand = [sim.controls[0]] * int(round(0.7 * BEND_FPS))
    hold = [down[-1]] * int(round(0.4 * BEND_FPS))
    prefix = stand + down + hold + down[::-1] + stand + down + hold + down[::-1]
    bends, k = [], len(stand)
    for _ in range(2):
        k += len(down)
        bends.append([1000.0 * (k + len(hold) - 1) / BEND_FPS, 1000.0 * (k + len(hold) + len(down) - 1) / BEND_FPS])
        k += len(hold) + len(down) + len(stand)
    controls = prefix + list(sim.controls)
    shift_ms = 1000.0 * len(prefix) / BEND_FPS
    name = f"bend_deadlift_az{az:g}_h{height_m * 100:.0f}_{body}_{facing}"
    mp4 = out_dir / f"{name}.mp4"
    tmp = mp4.with_name(mp4.stem + ".part.mp4")
    from tools.synth.kinematics import pose as make_pose

    with Renderer(cam, mesh=mesh, barbell=True, plates=True) as r, VideoWriter(tmp, BEND_FPS, (640, 480)) as w:
        for i, c in enumerate(controls):
            w.write(r.render(make_pose(c, sim.body)), 1000.0 * i / BEND_FPS)
    tmp.replace(mp4)
    truth = {"clip": name, "camera": cam.to_dict(), "bends": bends,
             "reps": [{"start_ms": rp.start_ms + shift_ms, "end_ms": rp.end_ms + shift_ms} for rp in sim.reps]}
    mp4.with_suffix(".json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
    return mp4


def real_candidates(eval_json: Path) -> list[dict[str, Any]]:
    """Per deadlift candidate rep of the labelled real clips (all pulls, see the module docstring)."""
    data = json.loads(eval_json.read_text(encoding="utf-8"))
    out = []
    for name, rep in sorted(data["reports"].items()):
        entries = rep.get("extra", {}).get("bar_check", []) or []
        for i, (e, before) in enumerate(zip(entries, _before_states(["pull"] * len(entries)))):
            out.append({"clip": name, "rep": i, "kind": "pull", "before_frame": before,
                        "decision": e["decision"], "real": True, "patch_ncc": e.get("patch_ncc"),
                        "before_ncc": e.get("before_ncc"), "before_floor_ncc": e.get("before_floor_ncc")})
    return out


def real_clip_candidates(labels: Path, cache: Path, model: str) -> list[dict[str, Any]]:
    """The same as :func:`real_candidates`, straight from the labelled clips (``labels.json`` with the clips
    in ``videos/`` beside it) through :func:`formcheck.pipeline.analyze_for_eval`, the path `formcheck eval`
    takes, for the deadlift clips whose poses ``cache`` already holds (a clip not in it is skipped and
    named: nothing is extracted or written there)."""
    from formcheck.pipeline import analyze_for_eval, file_sha256

    out = []
    for entry in json.loads(labels.read_text(encoding="utf-8")):
        if entry.get("lift") != "deadlift":
            continue
        clip = labels.parent / "videos" / entry["file"]
        if not (cache / f"{file_sha256(clip)[:24]}.{model}.npz").is_file():
            print(f"{entry['file']}: no cached pose, skipped", file=sys.stderr, flush=True)
            continue
        report = analyze_for_eval(clip, model=model, cache_dir=cache)
        entries = report.get("extra", {}).get("bar_check", []) or []
        for i, (e, before) in enumerate(zip(entries, _before_states(["pull"] * len(entries)))):
            out.append({"clip": entry["file"], "rep": i, "kind": "pull", "before_frame": before,
                        "decision": e["decision"], "real": True, "patch_ncc": e.get("patch_ncc"),
                        "before_ncc": e.get("before_ncc"), "before_floor_ncc": e.get("before_floor_ncc")})
        print(f"{entry['file']}: {len(entries)} rises checked, {sum(e['decision'] == 'bar stayed' for e in entries)} "
              f"dropped; counted {report['rep_count']}, labelled {entry.get('rep_count')}", flush=True)
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``"<source> <kind>, before frame <state>"`` -> {"dropped": n, "of": m}."""
    tab: dict[str, Counter] = {}
    for r in rows:
        key = f"{'real' if r.get('real') else 'rendered'} {r['kind']}, before frame {r['before_frame']}"
        for k in (key, key + " (first rep)") if r["rep"] == 0 else (key,):
            c = tab.setdefault(k, Counter())
            c["of"] += 1
            c["dropped"] += r["decision"] == "bar stayed"
    return {k: {"dropped": int(v["dropped"]), "of": int(v["of"])} for k, v in sorted(tab.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--renders", type=Path, action="append", default=[],
                    help="a folder of rendered deadlift clips with their truth .json (poses cached in DIR/poses)")
    ap.add_argument("--samples", type=Path, help="the bundled sample_videos folder (deadlift_*.mp4 + .json)")
    ap.add_argument("--sample-cache", type=Path, default=Path("/work/cache/barcheck_poses"),
                    help="pose cache for the samples")
    ap.add_argument("--real-eval", type=Path, help="eval.json of a `formcheck eval` run on the real clips")
    ap.add_argument("--real-labels", type=Path,
                    help="labels.json of the real clips (videos/ beside it): run their deadlifts here instead of "
                         "reading an eval.json; needs --real-cache")
    ap.add_argument("--real-cache", type=Path, help="the real clips' pose cache (read only)")
    ap.add_argument("--render-bends", type=Path,
                    help="render the bend clips (BEND_GRID) missing from this folder first, then read it "
                         "like --renders")
    ap.add_argument("--model", default="full")
    ap.add_argument("--json", type=Path, help="also write the rows and the summary here")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    if args.render_bends is not None:
        args.render_bends.mkdir(parents=True, exist_ok=True)
        for az, h, body, facing in BEND_GRID:
            name = f"bend_deadlift_az{az:g}_h{h * 100:.0f}_{body}_{facing}"
            if not (args.render_bends / f"{name}.json").is_file():
                print(f"rendering {name}", file=sys.stderr, flush=True)
                render_bend_clip(az, h, body, facing, args.render_bends)
        args.renders.append(args.render_bends)
    clips = [(mp4, d / "poses") for d in args.renders for mp4 in sorted(d.glob("*deadlift*.mp4"))
             if mp4.with_suffix(".json").is_file() and not mp4.stem.endswith(".part")]
    if args.samples is not None:
        clips += [(mp4, args.sample_cache) for mp4 in sorted(args.samples.glob("deadlift_*.mp4"))]
    counts = []
    for mp4, cache in clips:
        cand, n = rendered_candidates(mp4, cache, args.model)
        counts.append(n)
        for r in cand:
            rows.append(r)
            print(f"{r['clip']:38s} rep {r['rep']}  {r['kind']:8s}  before: {r['before_frame']:16s}  "
                  f"{r['decision']:10s}  patch {r['patch_ncc']:.2f}  before {r['before_ncc']:.2f}  "
                  f"before-floor {r['before_floor_ncc']:.2f}  "
                  f"bg {r['background_ncc']:.2f}  {r['reason']}", flush=True)
        print(f"{n['clip']:38s} pulls {n['truth']}: counted {n['landmarks']} from the landmarks, "
              f"{n['pipeline']} after the bar check", flush=True)
    if args.real_eval is not None:
        rows += real_candidates(args.real_eval)
    if args.real_labels is not None:
        if args.real_cache is None:
            ap.error("--real-labels needs --real-cache")
        rows += real_clip_candidates(args.real_labels, args.real_cache, args.model)
    summary = summarise(rows)
    print("\nrises dropped by the bar check ('bar stayed'), by what they were:")
    for k, v in summary.items():
        print(f"  {k:55s} {v['dropped']}/{v['of']}")
    if counts:
        exact = [sum(n[k] == n["truth"] for n in counts) for k in ("landmarks", "pipeline")]
        print(f"rendered clips counted exactly: {exact[0]}/{len(counts)} from the landmarks, "
              f"{exact[1]}/{len(counts)} after the bar check (the pipeline)")
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "counts": counts, "rows": rows}, indent=1,
                                        default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
