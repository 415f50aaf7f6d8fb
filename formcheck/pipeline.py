"""One clip, end to end: video -> pose -> analysis -> report files (the IO shell).

The CLI (``formcheck analyze``) and the app both call :func:`analyze_video`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from formcheck import video
from formcheck.analysis import Analysis, analyze_sequence
from formcheck.annotate import FLAG_FRAME_BEFORE_MS, analysis_annotators, draw_flag_frame, save_png
from formcheck.barcheck import BarCheck, check_rise, has_before_frame, vetoed_spans
from formcheck.framestore import FrameStore
from formcheck.guidance import load_guidance
from formcheck.overlay import ANALYZE_PRESET, write_overlay_video
from formcheck.pose import PoseResult, PrefixWatch, extract_pose
from formcheck.report import min_quality_for, plot_angles, render_html, render_markdown, write_frame_csv
from formcheck.rules import RuleSet, load_rules, load_rulesets

FORMATS = ("json", "md", "html")
ProgressFn = Callable[[str, float], None]

#: Provisional results (``on_provisional``): how often (s, wall time) the pose so far is looked at, and how
#: much more video (ms) it must hold than at the last analysis before it is analysed again.
PROVISIONAL_EVERY_S = 0.4
PROVISIONAL_MIN_NEW_MS = 500.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipResult:
    """What :func:`analyze_video` made for one clip."""

    path: Path
    analysis: Analysis
    pose: PoseResult
    files: Mapping[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def report(self):  # noqa: ANN201 - FormReport, kept loose to avoid an import cycle in type checkers
        return self.analysis.report


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class _Background:
    """``fn()`` run in a daemon thread; :meth:`result` waits for it (and re-raises its error)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._out: tuple[bool, Any] = (False, None)
        self._th = threading.Thread(target=self._run, name="formcheck-background", daemon=True)
        self._th.start()

    def _run(self) -> None:
        try:
            self._out = (True, self._fn())
        except BaseException as exc:  # handed to result()
            self._out = (False, exc)

    def result(self) -> Any:
        self._th.join()
        ok, value = self._out
        if not ok:
            raise value
        return value


def _load_plotting() -> None:
    """Import matplotlib's pyplot (about 0.7 s) while the pose pass runs, not after it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def _source(info: video.VideoInfo, pose: PoseResult, sha: str) -> dict[str, Any]:
    seq = pose.sequence
    return {
        "file": info.path.name,
        "sha256": sha,
        "duration_ms": round(seq.duration_ms, 1),
        "n_frames": seq.n_frames,
        "fps": round(seq.fps_est, 3) if seq.n_frames > 1 else None,
        "width": info.width,
        "height": info.height,
        "rotation_deg": info.rotation_deg,
    }


def analyze_video(
    path: str | Path,
    *,
    lift: str = "auto",
    model: str = "full",
    out_dir: str | Path,
    athlete: str = "",
    make_video: bool = True,
    formats: Sequence[str] = FORMATS,
    progress: ProgressFn | None = None,
    rules_paths: Mapping[str, str | Path | RuleSet] | None = None,
    workers: int | None = None,
    keep_masks: bool = True,
    every_frame: bool = False,
    on_report: Callable[[ClipResult], None] | None = None,
    on_provisional: Callable[[dict[str, Any]], None] | None = None,
) -> ClipResult:
    """Analyse one clip and write its report files into ``out_dir``.

    Files (by key in ``ClipResult.files``): ``json`` ``<stem>.report.json``,
    ``md`` ``<stem>.report.md``, ``html`` ``<stem>.report.html``, ``csv``
    ``<stem>.frames.csv``, ``plot`` ``<stem>.angles.png``, ``pose``
    ``<stem>.pose.npz``, ``video`` ``<stem>.annotated.mp4`` and one
    ``worst_<rep>_<code>`` PNG per flag. Raises ``ValueError`` subclasses with
    one-line messages for bad input (unreadable video, missing model).
    ``keep_masks`` (on by default) also extracts the lifter's silhouettes: on
    reps seen side-on the back's curve is measured from them
    (:mod:`formcheck.spine`) and judged alongside the landmark proxy for the
    rounded-back fault; on the labelled real clips this beats the proxy alone
    (docs/accuracy.md, "Rounded back from the silhouette"). Cost: about +5 to
    +20 % of the pose time (``benchmarks/bench_spine.py``); off, the proxy
    judges alone. ``every_frame`` turns off the pose pass's frame-rate cap and its
    adaptive stride (:func:`formcheck.pose.extract_pose`): a 60 fps clip is then analysed at
    60 fps, a still lifter at the full rate.
    The annotated video is written last, after the reports and images.
    ``on_report`` is called with the result so far (every file but the video) as soon as the
    report files exist, before the video is written: the app shows the results from it.
    ``on_provisional`` is called during the pose pass, from another thread, with
    :func:`provisional_summary` of the clip's start analysed so far (the reps completed in it and their
    flags), each time that summary changes; never after the pose pass has ended. These are not the
    results: the final analysis (whole clip, deadlift bar check) may count and flag otherwise.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"formats: expected some of {', '.join(FORMATS)}, got {bad}")
    t0 = time.perf_counter()
    rules_paths = load_rulesets(rules_paths)  # each tuned file parsed once per run, then handed inward
    path = Path(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report_progress: ProgressFn = progress or (lambda stage, frac: None)
    warnings: list[str] = []

    def warn(msg: str) -> None:
        if msg not in warnings:
            warnings.append(msg)

    info = video.probe(path)
    # the analysed frames, kept on disk by the pose pass: the bar check, the flag images and the
    # annotated video read them instead of decoding the clip again (formcheck/framestore.py)
    store = FrameStore()
    try:
        return _analyze(path, info, store, out, lift=lift, model=model, athlete=athlete, make_video=make_video,
                        formats=formats, report_progress=report_progress, rules_paths=rules_paths,
                        workers=workers, keep_masks=keep_masks, every_frame=every_frame, warnings=warnings,
                        warn=warn, t0=t0, on_report=on_report, on_provisional=on_provisional)
    finally:
        store.close()


def _analyze(path: Path, info: video.VideoInfo, store: FrameStore, out: Path, *, lift: str, model: str,
             athlete: str, make_video: bool, formats: Sequence[str], report_progress: ProgressFn,
             rules_paths: Mapping[str, RuleSet] | None, workers: int | None, keep_masks: bool, every_frame: bool,
             warnings: list[str], warn: Callable[[str], None], t0: float,
             on_report: Callable[[ClipResult], None] | None,
             on_provisional: Callable[[dict[str, Any]], None] | None = None) -> ClipResult:
    report_progress("pose", 0.0)
    # off the critical path, during the pose pass: the clip's hash (hashlib releases the GIL) and the plot import
    sha = _Background(lambda: file_sha256(path))
    _Background(_load_plotting)
    watch = PrefixWatch() if on_provisional is not None else None
    early = None
    if watch is not None and on_provisional is not None:
        model_name = model if model in ("lite", "full", "heavy") else Path(model).name
        early = _Provisional(watch, lambda seq, masks: analyze_sequence(
            seq, lift=lift, rules_paths=rules_paths, source={"file": path.name}, model=model_name, athlete=athlete,
            masks=masks), on_provisional)
    try:
        pose = extract_pose(path, model=model, workers=workers, keep_masks=keep_masks, warn=warn,
                            every_frame=every_frame,
                            progress=lambda done, total: report_progress("pose", min(1.0, done / max(total, 1))),
                            frames=store, watch=watch)
    finally:
        if early is not None:
            early.stop()
    report_progress("analysis", 0.0)
    source = _source(info, pose, sha.result())  # once: a vetoed bar check re-runs the analysis

    def run(not_reps: Sequence[tuple[float, float]] = (), extra_warnings: Sequence[str] = (),
            extra: Mapping[str, Any] | None = None) -> Analysis:
        return analyze_sequence(
            pose.sequence, lift=lift, rules_paths=rules_paths, source=source,
            model=model if model in ("lite", "full", "heavy") else Path(model).name, athlete=athlete,
            warnings=[*warnings, *extra_warnings], not_reps=not_reps, extra=extra, masks=pose.masks,
        )

    first = run()
    # the bar check's frames and the worst-flag frames, decoded in one pass and kept (a few per rep)
    bank = FrameBank(path, max(pose.sequence.frame_w, pose.sequence.frame_h), store=store)
    bank.fetch([*_bar_check_requests(first), *_flag_requests(first)])
    analysis = with_bar_check(path, first, run, rules_paths, frames=bank)
    report = analysis.report
    stem = path.stem
    files: dict[str, Path] = {}
    files["pose"] = pose.sequence.save(out / f"{stem}.pose.npz")
    signals = analysis.signals()
    rep_dicts = list(report.reps)
    flag_dicts = list(report.flags)
    if signals:
        files["csv"] = write_frame_csv(out / f"{stem}.frames.csv", analysis.t_ms, signals, analysis.rep_of_frame(),
                                       analysis.partial_of_frame())
        files["plot"] = plot_angles(out / f"{stem}.angles.png", analysis.t_ms, signals, rep_dicts, flag_dicts,
                                    title=f"{path.name}: {report.lift}, {report.view} view",
                                    partial_reps=list(report.partial_reps),
                                    min_quality=min_quality_for(report.lift, (rules_paths or {}).get(report.lift)))
    guidance = load_guidance()
    cues = {code: guidance.cue(code) for code in {f["code"] for f in flag_dicts}}
    report_progress("images", 0.0)
    bank.fetch(_flag_requests(analysis))  # reads nothing unless the bar check's re-run moved a flag
    for f in flag_dicts:
        key = f"worst_{f['rep']}_{f['code']}"
        frame = bank.get(float(f["t_ms"]), FLAG_FRAME_BEFORE_MS)
        if frame is not None:
            rgb = draw_flag_frame(frame, analysis.sequence, f, signals, cues.get(f["code"], ""),
                                  f.get("message", ""), spine=analysis.spine)
            files[key] = save_png(out / f"{stem}.rep{f['rep']}.{f['code']}.png", rgb)
    images = {k: v for k, v in files.items() if k == "plot" or k.startswith("worst_")}
    rel = {("angles" if k == "plot" else k): v.name for k, v in images.items()}
    if "json" in formats:
        p = out / f"{stem}.report.json"
        p.write_text(report.to_json(), encoding="utf-8")
        files["json"] = p
    if "md" in formats:
        p = out / f"{stem}.report.md"
        p.write_text(render_markdown(report, rel), encoding="utf-8")
        files["md"] = p
    if "html" in formats:
        p = out / f"{stem}.report.html"
        p.write_text(render_html(report, {("angles" if k == "plot" else k): v for k, v in images.items()}),
                     encoding="utf-8")
        files["html"] = p
    if on_report is not None:
        on_report(ClipResult(path=path, analysis=analysis, pose=pose, files=dict(files),
                             seconds=time.perf_counter() - t0))
    if make_video and pose.sequence.n_frames:
        report_progress("video", 0.0)
        annotators = analysis_annotators(analysis.sequence, signals, report.to_dict(), cues, spine=analysis.spine)
        files["video"] = write_overlay_video(
            out / f"{stem}.annotated.mp4", path, analysis.sequence, annotators=annotators, warn=warn,
            progress=lambda done, total: report_progress("video", min(1.0, done / max(total, 1))),
            frames=store, preset=ANALYZE_PRESET,
        )
    report_progress("done", 1.0)
    return ClipResult(path=path, analysis=analysis, pose=pose, files=files, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- provisional results
def provisional_summary(analysis: Analysis, through_ms: float, duration_ms: float | None) -> dict[str, Any]:
    """What the analysis of a clip's start says so far, in plain JSON values.

    ``{"through_ms", "duration_ms", "lift", "reps": [{"rep", "start_ms", "end_ms", "flags": [codes],
    "borderline": [codes]}]}``: the reps completed in the frames analysed (a rep cut by the end of
    those frames is not one of them) and each one's flags. Empty ``reps`` when there is none yet.
    """
    report = analysis.report
    reps = []
    if report.status == "ok":
        for r in report.reps:
            n = int(r["rep"])
            reps.append({"rep": n, "start_ms": round(float(r["start_ms"]), 1), "end_ms": round(float(r["end_ms"]), 1),
                         "flags": sorted({str(f["code"]) for f in report.flags if int(f["rep"]) == n}),
                         "borderline": sorted({str(b["code"]) for b in report.borderline if int(b["rep"]) == n})})
    return {"through_ms": round(float(through_ms), 1),
            "duration_ms": None if duration_ms is None else round(float(duration_ms), 1),
            "lift": str(report.lift), "reps": reps}


def _gist(summary: Mapping[str, Any] | None) -> Any:
    """What a user would see change: the lift, the reps and each one's flags (not a rep's end moving by a frame)."""
    if summary is None:
        return None
    return summary["lift"], [(r["rep"], r["flags"], r["borderline"]) for r in summary["reps"]]


class _Provisional:
    """During the pose pass: analyse the clip's start as far as it is posed, in a thread, and hand on what changed.

    Every :data:`PROVISIONAL_EVERY_S` it looks at the :class:`PrefixWatch` (:meth:`step`); when the posed
    start has grown by :data:`PROVISIONAL_MIN_NEW_MS` of video it analyses it and calls ``emit`` with
    :func:`provisional_summary` if the lift, the reps or their flags differ from the last one sent (a
    summary without a rep is not sent). :meth:`stop` ends it: nothing is emitted after it returns. A
    failure here is logged and ends the provisional results only.
    """

    def __init__(self, watch: PrefixWatch, analyse: Callable[[Any, Any], Analysis],
                 emit: Callable[[dict[str, Any]], None], *, start: bool = True) -> None:
        self._watch, self._analyse, self._emit = watch, analyse, emit
        self._stopped = threading.Event()
        self._emit_lock = threading.Lock()
        self._last_ms = -float("inf")
        self._last_sent: dict[str, Any] | None = None
        if start:
            threading.Thread(target=self._run, name="formcheck-provisional", daemon=True).start()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(PROVISIONAL_EVERY_S):
                self.step()
        except Exception:  # noqa: BLE001 - provisional results are optional; the final analysis runs regardless
            _log.warning("provisional results stopped", exc_info=True)

    def step(self) -> dict[str, Any] | None:
        """Analyse the posed start if it grew enough; returns the summary emitted, if any."""
        through = self._watch.through_ms
        if self._stopped.is_set() or through is None or through - self._last_ms < PROVISIONAL_MIN_NEW_MS:
            return None
        snap = self._watch.snapshot()
        if snap is None:
            return None
        seq, masks = snap
        self._last_ms = float(seq.t_ms[-1])
        t0 = time.perf_counter()
        summary = provisional_summary(self._analyse(seq, masks), self._last_ms, self._watch.duration_ms)
        if not summary["reps"] or _gist(summary) == _gist(self._last_sent):
            return None
        with self._emit_lock:
            if self._stopped.is_set():
                return None
            self._emit(summary)
        _log.info("provisional results: %d rep(s) in the first %.1f s of video (analysed in %.2f s)",
                  len(summary["reps"]), self._last_ms / 1000.0, time.perf_counter() - t0)
        self._last_sent = summary
        return summary

    def stop(self) -> None:
        """No more provisional results (the thread may finish an analysis it started, unseen)."""
        with self._emit_lock:
            self._stopped.set()


# --------------------------------------------------------------------------- evaluation runs
def pose_cached(path: str | Path, *, model: str, cache_dir: str | Path | None, workers: int | None = None,
                warn: Callable[[str], None] | None = None, masks: bool = False,
                every_frame: bool = True) -> tuple[Any, str, Any]:
    """The clip's pose sequence, from ``cache_dir`` when it was extracted before.

    The cache key is the file's sha256 and the model name, so a renamed clip
    hits the cache and an edited one does not. Returns ``(PoseSequence, sha256,
    MaskTrack or None)``; the silhouettes are kept only with ``masks=True``
    (cached beside the pose as ``<key>.masks.npz``; a pose cached without masks
    is extracted again). Poses are extracted from every frame by default
    (``every_frame``), like the ones already in the evaluation cache, so a cache
    never mixes frame rates.
    """
    from formcheck.pose import MaskTrack
    from formcheck.sequence import PoseSequence

    sha = file_sha256(path)
    cached = Path(cache_dir) / f"{sha[:24]}.{Path(str(model)).stem}.npz" if cache_dir else None
    cached_masks = cached.with_name(cached.stem + ".masks.npz") if cached is not None else None
    if cached is not None and cached.is_file() and (not masks or cached_masks.is_file()):
        seq = PoseSequence.load(cached)
        return seq, sha, MaskTrack.load(cached_masks) if masks else None
    res = extract_pose(path, model=model, workers=workers, warn=warn, keep_masks=masks, every_frame=every_frame)
    stats = {k: v for k, v in res.stats.items() if isinstance(v, (int, float, str))}
    seq = res.sequence.with_(meta={**res.sequence.meta, "stats": stats})
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        if masks and res.masks is not None:
            tmp = cached_masks.with_name(cached_masks.name + ".part")
            res.masks.save(tmp)
            tmp.replace(cached_masks)
        tmp = cached.with_name(cached.name + ".part")
        seq.save(tmp)
        tmp.replace(cached)
    return seq, sha, res.masks if masks else None


def analyze_for_eval(path: str | Path, *, model: str = "full", cache_dir: str | Path | None = None,
                     lift: str = "auto", rules_paths: Mapping[str, str | Path | RuleSet] | None = None,
                     masks: bool = False, analysis_fps: float | None = None,
                     analysis_stride: int | None = None) -> dict[str, Any]:
    """Report dict for one labelled clip (pose from the cache when possible; no files written).

    ``masks=True`` also extracts (or loads from the cache) the lifter's
    silhouettes, which turns on the silhouette back-rounding estimate.
    ``analysis_fps`` keeps only the frames a pose pass at that rate would analyse
    (:func:`formcheck.pose.thin_to_cap`, with the packaged ``max_frame_step``; the
    cache holds every frame). ``analysis_stride`` (at least 2) also runs the adaptive stride's gate
    with that ``max_stride`` and the packaged ``stride_*`` values over the frames kept
    (:mod:`formcheck.stride`), on their cached landmarks.
    """
    from dataclasses import replace

    from formcheck.pose import PoseParams, thin_to_cap

    path = Path(path)
    rules_paths = load_rulesets(rules_paths)  # each tuned file parsed once per clip, then handed inward
    warnings: list[str] = []
    seq, sha, mask_track = pose_cached(path, model=model, cache_dir=cache_dir, warn=warnings.append, masks=masks)
    if analysis_fps is not None or (analysis_stride or 1) > 1:
        pp = PoseParams.packaged()
        stride = replace(pp.stride, max_stride=int(analysis_stride)) if (analysis_stride or 1) > 1 else None
        seq, mask_track = thin_to_cap(seq, mask_track, video.probe(path).fps_nominal, analysis_fps,
                                      pp.max_frame_step, stride=stride)
    source = {"file": path.name, "sha256": sha, "duration_ms": round(seq.duration_ms, 1), "n_frames": seq.n_frames}

    def run(not_reps: Sequence[tuple[float, float]] = (), extra_warnings: Sequence[str] = (),
            extra: Mapping[str, Any] | None = None) -> Analysis:
        return analyze_sequence(seq, lift=lift, rules_paths=rules_paths, source=source, model=str(model),
                                warnings=[*warnings, *extra_warnings], not_reps=not_reps, extra=extra,
                                masks=mask_track)

    analysis = with_bar_check(path, run(), run, rules_paths)
    return analysis.report.to_dict()


# --------------------------------------------------------------------------- deadlift bar check (image)
#: A time's frame is looked for this far before it and (not including) this far after it (ms).
_NEAR_BEFORE_MS = 300.0
_NEAR_AFTER_MS = 200.0


def _frames_near(path: Path, times_ms: Sequence[float], max_side: int,
                 before_ms: Sequence[float] | None = None) -> list[video.Frame | None]:
    """The decoded frame nearest each of ``times_ms``, read in one decoding pass.

    A time's frame is the nearest among those in ``[t - 300 ms, t + 200 ms)`` (the earlier on a
    tie; None when there is none); ``before_ms`` gives each time another reach back than 300 ms.
    One seek to the earliest window and one pass to the latest time decode each frame once; only
    frames inside a window are converted to RGB.
    """
    if not times_ms:
        return []
    backs = [_NEAR_BEFORE_MS] * len(times_ms) if before_ms is None else list(before_ms)
    wins = [(max(0.0, t - b), t + _NEAR_AFTER_MS) for t, b in zip(times_ms, backs)]
    best: list[video.Frame | None] = [None] * len(times_ms)
    last = max(times_ms)
    for frame in video.iter_frames(path, max_side=max_side, start_ms=min(a for a, _ in wins),
                                   end_ms=max(b for _, b in wins), warn=lambda msg: None,
                                   want=lambda t: any(a <= t < b for a, b in wins)):
        for k, (t, (a, b)) in enumerate(zip(times_ms, wins)):
            if a <= frame.t_ms < b and (best[k] is None or abs(frame.t_ms - t) < abs(best[k].t_ms - t)):
                best[k] = frame
        if frame.t_ms > last:
            break
    return best


class FrameBank:
    """Frames of one clip at one size, looked up by time, decoded in as few passes as possible and kept.

    A request is ``(t_ms, before_ms)``: the frame nearest ``t_ms`` in ``[t - before_ms, t + 200 ms)``
    (see :func:`_frames_near`). :meth:`fetch` reads every request not yet held in one decoding pass;
    :meth:`get` answers from what is held (reading a missing one on its own). ``passes`` counts the
    decoding passes. A clip that cannot be read gives None frames. ``store`` (a finished
    :class:`formcheck.framestore.FrameStore` of the pose pass, frames of this size) answers
    first; only what it does not hold is decoded. Memory: a frame the store holds is read from it
    again at each :meth:`get` (a disk read of well under a millisecond), not kept; a decoded one is
    kept until :meth:`forget` (three frames per deadlift rep kept for a 10-minute clip were about
    250 MB at 640x360).
    """

    def __init__(self, path: str | Path, max_side: int, store: FrameStore | None = None) -> None:
        self.path = Path(path)
        self.max_side = int(max_side)
        self.passes = 0
        self.store = store
        self._held: dict[tuple[float, float], video.Frame | None] = {}
        self._in_store: set[tuple[float, float]] = set()

    def fetch(self, requests: Sequence[tuple[float, float]]) -> None:
        todo = sorted({(float(t), float(b)) for t, b in requests} - set(self._held) - self._in_store)
        size = self.store.frame_size() if self.store is not None else None
        if todo and size is not None and max(size) == self.max_side:
            missing = []
            for key in todo:
                found, frame = self.store.nearest(*key)  # type: ignore[union-attr]
                if found:
                    self._in_store.add(key)
                else:
                    missing.append(key)
            todo = missing
        if not todo:
            return
        self.passes += 1
        try:
            frames = _frames_near(self.path, [t for t, _ in todo], self.max_side, [b for _, b in todo])
        except video.VideoError:
            frames = [None] * len(todo)
        self._held.update(zip(todo, frames))

    def get(self, t_ms: float, before_ms: float = _NEAR_BEFORE_MS) -> video.Frame | None:
        key = (float(t_ms), float(before_ms))
        self.fetch([key])
        if key in self._in_store:
            return self.store.nearest(*key)[1]  # type: ignore[union-attr]
        return self._held[key]

    def forget(self, requests: Sequence[tuple[float, float]]) -> None:
        """Drop these requests' decoded frames (a later :meth:`get` reads them again)."""
        for t, b in requests:
            self._held.pop((float(t), float(b)), None)


def _bar_check_times(rep: Any) -> tuple[float, ...]:
    # floor moment, lockout and the "before" frame (the lowering begins: from the 2nd rep at the previous
    # lockout with the bar in hand; for the first, where the clip's first descent began)
    return (rep.bottom_ms, rep.end_ms, rep.start_ms)


def _bar_check_requests(analysis: Analysis) -> list[tuple[float, float]]:
    seg = analysis.segmentation
    if analysis.lift != "deadlift" or seg is None:
        return []
    return [(t, _NEAR_BEFORE_MS) for rep in seg.reps for t in _bar_check_times(rep)]


def _flag_requests(analysis: Analysis) -> list[tuple[float, float]]:
    return [(float(f["t_ms"]), FLAG_FRAME_BEFORE_MS) for f in analysis.report.flags]


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def deadlift_bar_checks(path: str | Path, analysis: Analysis,
                        rules_paths: Mapping[str, str | Path | RuleSet] | None = None,
                        frames: FrameBank | None = None) -> list[tuple[Any, BarCheck]]:
    """Per counted deadlift rep: ``(Rep, BarCheck)`` from its floor-moment and lockout frames
    (and, from the second rep, the frame where its lowering began).

    Empty for other lifts. A frame that cannot be read gives an ``"unsure"`` check (the rep is kept).
    ``frames`` (at the analysed frame size) may already hold them; the frames of all reps not held
    are read in one pass.
    """
    seg = analysis.segmentation
    if analysis.lift != "deadlift" or seg is None or not seg.reps:
        return []
    params = load_rules("deadlift", (rules_paths or {}).get("deadlift")).bar_check
    assert params is not None  # a deadlift rule set always has one (parse_ruleset requires [bar_check])
    seq = analysis.sequence
    side = max(seq.frame_w, seq.frame_h)
    bank = frames if frames is not None else FrameBank(path, side)
    bank.fetch(_bar_check_requests(analysis))
    out = []
    nan = float("nan")
    for rep in seg.reps:
        times = _bar_check_times(rep)
        fa, fb, fs = [bank.get(t) for t in times] + [None] * (3 - len(times))
        if fa is None or fb is None or fa.rgb.shape != fb.rgb.shape:
            out.append((rep, BarCheck("unsure", nan, nan, nan, nan, "the frames could not be read")))
            continue
        if fs is not None and fs.rgb.shape != fa.rgb.shape:
            fs = None
        scale = max(fa.rgb.shape[:2]) / side

        def xy(frame: video.Frame) -> np.ndarray:
            return seq.xy_px[int(np.argmin(np.abs(seq.t_ms - frame.t_ms)))] * scale

        out.append((rep, check_rise(
            _gray(fa.rgb.astype(np.float32)), _gray(fb.rgb.astype(np.float32)), xy(fa), xy(fb), params,
            before_gray=None if fs is None else _gray(fs.rgb.astype(np.float32)),
            before_xy=None if fs is None else xy(fs),
            # the bar was in hand where this lowering began only after a rise that carried it: not after the
            # first rep's start, nor after a rise this check found had left the bar lying (a bend, a stand-up)
            after_a_rep=has_before_frame(rep.index) and not (out and out[-1][1].veto),
        )))
        bank.forget([(t, _NEAR_BEFORE_MS) for t in times])  # done with: memory stays flat in reps
    return out


def _s(ms: float) -> str:
    return f"{ms / 1000.0:.1f} s"


def with_bar_check(path: str | Path, analysis: Analysis, rerun: Callable[..., Analysis],
                   rules_paths: Mapping[str, str | Path | RuleSet] | None = None,
                   frames: FrameBank | None = None) -> Analysis:
    """Drop deadlift rises that left the bar on the floor (the image check of :mod:`formcheck.barcheck`).

    ``rerun(not_reps=..., extra_warnings=..., extra=...)`` re-analyses the clip without them (only
    when there are any); each gets a plain-words warning. ``frames``: see :func:`deadlift_bar_checks`. The checks of every rep go to
    ``report.extra["bar_check"]``. Other lifts come back unchanged.
    """
    checks = deadlift_bar_checks(path, analysis, rules_paths, frames=frames)
    if not checks:
        return analysis

    def num(x: float) -> float | None:
        return round(x, 3) if np.isfinite(x) else None

    entries = [
        {"bottom_ms": round(rep.bottom_ms, 1), "end_ms": round(rep.end_ms, 1), "decision": c.decision,
         "patch_ncc": num(c.patch_ncc), "before_ncc": num(c.before_ncc), "before_floor_ncc": num(c.before_floor_ncc),
         "background_ncc": num(c.background_ncc), "rise_frac": num(c.rise_frac), "reason": c.reason}
        for rep, c in checks
    ]
    vetoed = vetoed_spans(checks)
    if vetoed:
        notes = [f"a rise at {_s(rep.bottom_ms)} left the bar on the floor: not counted"
                 for rep, c in checks if c.veto]
        return rerun(not_reps=vetoed, extra_warnings=notes, extra={"bar_check": entries})
    report = replace(analysis.report, extra={**analysis.report.extra, "bar_check": entries})
    return replace(analysis, report=report)
