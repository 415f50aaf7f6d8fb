"""Batches of clips for ``formcheck analyze``: clip lists, resume, the summary table, the engines.

Engines
-------
``local`` (the default): clip after clip in this process (:func:`formcheck.cli.run_clips`).
``ray``: one Ray task per clip on a local or remote Ray cluster (:mod:`formcheck.rayengine`,
needs ``pip install "formcheck[scale]"``; Ray is imported only there).

Both write, for each clip analysed, the usual report files and ``<stem>.batch.json`` (the
clip's resume record: its key and summary row), and at the end of the run ``batch-summary.csv``
and ``batch-summary.parquet`` (one row per clip of the run, failed ones included).

Resume
------
A clip's key is a hash of its content (SHA-256) and of everything else its report depends
on (:func:`settings_fingerprint`): the model file's content, the packaged rule, calibration
and guidance files (``formcheck/config/*.toml``), the tuned rules files given, the lift asked for, the athlete, the
silhouette and frame-rate options and the formcheck version. ``--resume`` skips a clip whose
resume record in the output folder has the same key and whose files are all still there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from formcheck import __version__
from formcheck.faults import FAULT_CODES

ENGINES = ("local", "ray")
SUMMARY_CSV = "batch-summary.csv"
SUMMARY_PARQUET = "batch-summary.parquet"
RECORD_SUFFIX = ".batch.json"
#: Suffix of a clip list given instead of a clip or folder.
LIST_SUFFIX = ".txt"
_CONFIG_DIR = Path(__file__).resolve().parent / "config"

#: The summary's columns before the per-fault ones (each fault code is a column of its flagged reps).
BASE_COLUMNS = ("clip", "path", "outcome", "status", "lift", "view", "reps", "partial_reps", "flags")
TAIL_COLUMNS = ("error", "seconds", "attempts", "report")
COLUMNS = (*BASE_COLUMNS, *FAULT_CODES, *TAIL_COLUMNS)


# --------------------------------------------------------------------------- clips
def expand_lists(inputs: Iterable[str | Path]) -> list[Path]:
    """Clips and folders, with each ``.txt`` clip list replaced by the paths it names.

    A list holds one clip or folder per line, relative to the list's own folder unless
    absolute; blank lines and lines starting with ``#`` are skipped. Raises ValueError
    (one line) when a list cannot be read.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.suffix.lower() != LIST_SUFFIX or p.is_dir():
            out.append(p)
            continue
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: cannot read the clip list ({getattr(exc, 'strerror', None) or exc})") from None
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            q = Path(text).expanduser()
            out.append(q if q.is_absolute() else p.parent / q)
    return out


def gather_clips(inputs: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """``(clips, errors)``: the video files of ``inputs`` (files, folders), and one line per bad input."""
    from formcheck.video import VideoError, find_videos

    clips: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        try:
            found = find_videos([item])
        except VideoError as exc:
            errors.append(str(exc))
            continue
        if not found and Path(item).is_dir():
            errors.append(f"{item}: no video files in this folder")
        clips.extend(c for c in found if c not in clips)
    return clips, errors


# --------------------------------------------------------------------------- settings and keys
@dataclass(frozen=True)
class BatchSettings:
    """What every clip of a batch is analysed with (plain values: it travels to Ray workers).

    ``model`` is ``lite``/``full``/``heavy`` or the path of a ``.task`` bundle; ``rules_files``
    holds ``(lift, path)`` of tuned rules files (each worker reads them once).
    """

    lift: str = "auto"
    model: str = "full"
    formats: tuple[str, ...] = ("json", "md", "html")
    make_video: bool = True
    rules_files: tuple[tuple[str, str], ...] = ()
    athlete: str = ""
    workers: int | None = None
    keep_masks: bool = True
    every_frame: bool = False

    def rules_paths(self) -> dict[str, Path]:
        return {lift: Path(p) for lift, p in self.rules_files}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def settings_fingerprint(settings: BatchSettings, model_file: str | Path) -> str:
    """The part of a clip's key that is not the clip: model, rules and options (hex SHA-256)."""
    h = hashlib.sha256()

    def add(label: str, value: str | bytes) -> None:
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    add("version", __version__)
    add("model", _sha256_file(Path(model_file)))
    for p in sorted(_CONFIG_DIR.glob("*.toml")):  # rules, calibration, measures and guidance
        add(f"packaged/{p.name}", p.read_bytes())
    for lift, p in sorted(settings.rules_files):
        add(f"rules/{lift}", Path(p).read_bytes())
    add("options", json.dumps({"lift": settings.lift, "athlete": settings.athlete, "masks": settings.keep_masks,
                               "every_frame": settings.every_frame}, sort_keys=True))
    return h.hexdigest()


def clip_key(clip_sha256: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{clip_sha256}|{fingerprint}".encode()).hexdigest()


def record_path(out: Path, clip: Path) -> Path:
    return Path(out) / f"{Path(clip).stem}{RECORD_SUFFIX}"


# --------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class ClipRow:
    """One clip's line of the summary.

    ``outcome``: ``analysed``, ``resumed`` (its report was already in the output folder) or
    ``failed`` (``error`` says why; ``attempts`` counts the tries). ``faults`` maps each fault
    code to the reps it flagged; None when the clip's verdict for it is ``not_assessable`` or
    the lift has no such fault (never a guessed 0).
    """

    clip: str
    path: str
    outcome: str
    status: str = ""
    lift: str = ""
    view: str = ""
    reps: int | None = None
    partial_reps: int | None = None
    flags: int | None = None
    faults: Mapping[str, int | None] = field(default_factory=dict)
    error: str = ""
    seconds: float | None = None
    attempts: int = 1
    report: str = ""

    def values(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (*BASE_COLUMNS, *TAIL_COLUMNS)}
        d.update({code: self.faults.get(code) for code in FAULT_CODES})
        return {k: d[k] for k in COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["faults"] = dict(self.faults)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClipRow":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def row_from_report(clip: Path, report: Mapping[str, Any], *, seconds: float | None, attempts: int = 1,
                    report_file: str = "") -> ClipRow:
    verdicts = report.get("verdicts", {})
    faults: dict[str, int | None] = {}
    for code in FAULT_CODES:
        v = verdicts.get(code)
        faults[code] = (None if v in (None, "not_assessable")
                        else len({int(f["rep"]) for f in report.get("flags", []) if f["code"] == code}))
    return ClipRow(clip=clip.name, path=str(clip), outcome="analysed", status=str(report.get("status", "")),
                   lift=str(report.get("lift", "")), view=str(report.get("view", "")),
                   reps=int(report.get("rep_count", 0)), partial_reps=len(report.get("partial_reps", [])),
                   flags=len(report.get("flags", [])), faults=faults, seconds=seconds, attempts=attempts,
                   report=report_file)


def failed_row(clip: Path, error: str, attempts: int = 1) -> ClipRow:
    return ClipRow(clip=Path(clip).name, path=str(clip), outcome="failed", error=" ".join(str(error).split()),
                   attempts=attempts)


# --------------------------------------------------------------------------- one clip
def write_record(out: Path, clip: Path, key: str, row: ClipRow, files: Mapping[str, Path]) -> Path:
    """The clip's resume record, written last and atomically (a half-written one is never read)."""
    path = record_path(out, clip)
    data = {"key": key, "clip": str(clip), "files": sorted(Path(f).name for f in files.values()),
            "row": row.to_dict()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def resumed_row(clip: Path, out: Path, fingerprint: str) -> ClipRow | None:
    """The clip's row when ``out`` already holds its report for the same key (else None)."""
    path = record_path(out, clip)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != clip_key(_sha256_file(Path(clip)), fingerprint):
        return None
    if not all((Path(out) / name).is_file() for name in data.get("files", [])):
        return None
    try:
        row = ClipRow.from_dict(data["row"])
    except (KeyError, TypeError):
        return None
    return ClipRow(**{**row.to_dict(), "outcome": "resumed", "clip": Path(clip).name, "path": str(clip)})


def analyze_clip(clip: Path, settings: BatchSettings, out: Path, fingerprint: str, *,
                 rules: Mapping[str, Any] | None = None, progress: Callable[[str, float], None] | None = None,
                 attempts: int = 1) -> tuple[ClipRow, Any]:
    """Analyse one clip into ``out`` and write its resume record: ``(row, ClipResult)``.

    ``rules``: the tuned rule sets already read (by lift); by default ``settings.rules_files``.
    """
    from formcheck.pipeline import analyze_video

    clip = Path(clip)
    res = analyze_video(clip, lift=settings.lift, model=settings.model, out_dir=out, athlete=settings.athlete,
                        make_video=settings.make_video, formats=settings.formats, progress=progress,
                        rules_paths=rules if rules is not None else settings.rules_paths(),
                        workers=settings.workers, keep_masks=settings.keep_masks, every_frame=settings.every_frame)
    report = res.report.to_dict()
    main = res.files.get("html") or res.files.get("md") or res.files.get("json")
    row = row_from_report(clip, report, seconds=round(res.seconds, 3), attempts=attempts,
                          report_file=Path(main).name if main else "")
    write_record(out, clip, clip_key(report["source"]["sha256"], fingerprint), row, res.files)
    return row, res


# --------------------------------------------------------------------------- summary
def write_summary(rows: Sequence[ClipRow], out: Path, warn: Callable[[str], None] | None = None) -> list[Path]:
    """``batch-summary.csv`` and (with pyarrow) ``batch-summary.parquet`` in ``out``; returns the files written.

    pyarrow comes with Streamlit, a core dependency, and with the ``scale`` extra; without it
    only the CSV is written and ``warn`` is told.
    """
    from formcheck.csvsafe import csv_writer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    csv_path = out / SUMMARY_CSV
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        w = csv_writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if v is None else v for v in r.values().values()])
    written.append(csv_path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        if warn is not None:
            warn("pyarrow is not installed: wrote the CSV summary only (pip install \"formcheck[scale]\")")
        return written
    types = {"reps": pa.int32(), "partial_reps": pa.int32(), "flags": pa.int32(), "seconds": pa.float64(),
             "attempts": pa.int32(), **{code: pa.int32() for code in FAULT_CODES}}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
    values = [r.values() for r in rows]
    table = pa.table({c: pa.array([v[c] for v in values], type=schema.field(c).type) for c in COLUMNS},
                     schema=schema)
    pq_path = out / SUMMARY_PARQUET
    pq.write_table(table, pq_path)
    written.append(pq_path)
    return written


def summary_table(rows: Sequence[ClipRow]) -> Any:
    """A Rich table of the run: one line per clip, the faults flagged with their rep counts."""
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("clip", "outcome", "lift", "view", "reps", "flags"):
        table.add_column(col)
    for r in rows:
        if r.outcome == "failed":
            flags = f"error: {r.error}"
        else:
            flagged = [f"{code} x{n}" for code, n in r.faults.items() if n]
            flags = ", ".join(flagged) if flagged else ("clear" if r.status == "ok" else r.status)
        table.add_row(r.clip, r.outcome, r.lift, r.view, "" if r.reps is None else str(r.reps), flags)
    return table
