"""Check that an app analysis writes its clips and reports only under FORMCHECK_DATA_DIR.

Runs one analysis the way the app's worker does (:func:`formcheck.worker.run_analysis`, lite model) in a
child process whose HOME, TMPDIR and working folder are fresh empty folders (the XDG_* and MPLCONFIGDIR
variables removed, so every "user folder" falls under that HOME), with FORMCHECK_DATA_DIR set. Then it
lists every file left anywhere in those folders. Files outside the data folder other than the ones
named in ``ALLOWED`` (caches that hold no clip or report) make it exit 1. Run from the repository root::

    nice .venv/bin/python benchmarks/data_dir_only.py [CLIP]
    # default CLIP: sample_videos/squat_side_faults.mp4 (flagged reps, so rep clips are made too)

(Heavy for the test suite: one full analysis; docs/app.md "Files on shared storage" cites it.)
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Files allowed outside the data folder, relative to the fresh root: matplotlib's font cache.
ALLOWED = ("home/.cache/matplotlib/*",)

CHILD = """
import sys
from pathlib import Path
from formcheck.worker import AnalysisRequest, file_sha256, run_analysis
clip = Path(sys.argv[1])
req = AnalysisRequest(video_path=clip, source_name=clip.name, source_kind="sample", video_sha256=file_sha256(clip),
                      data_dir=Path(sys.argv[2]), model="lite")
print(run_analysis(req))
"""


def main() -> int:
    clip = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "sample_videos" / "squat_side_faults.mp4"
    if not clip.is_file():
        print(f"error: no clip {clip}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="formcheck-datadir-") as tmp:
        root = Path(tmp)
        for sub in ("home", "tmp", "data", "cwd"):
            (root / sub).mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("XDG_") and k not in ("MPLCONFIGDIR", "FORMCHECK_DATABASE_URL", "FORMCHECK_DB_URL")}
        env.update(HOME=str(root / "home"), TMPDIR=str(root / "tmp"), FORMCHECK_DATA_DIR=str(root / "data"),
                   PYTHONPATH=str(REPO))
        r = subprocess.run([sys.executable, "-c", CHILD, str(clip.resolve()), str(root / "data")], cwd=root / "cwd",
                           env=env, capture_output=True, text=True)
        if r.returncode:
            print(f"error: the analysis failed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 2
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        inside = [f for f in files if f.startswith("data/")]
        outside = [f for f in files if not f.startswith("data/")]
        stray = [f for f in outside if not any(fnmatch.fnmatch(f, a) for a in ALLOWED)]
        print(f"clip {clip.name}: session {r.stdout.strip()}")
        print(f"in the data folder ({len(inside)} files):")
        for f in inside:
            print(f"  {f}")
        print(f"elsewhere ({len(outside)} files, {len(stray)} not allowed):")
        for f in outside:
            print(f"  {f}{'' if f not in stray else '   <- NOT ALLOWED'}")
        return 1 if stray else 0


if __name__ == "__main__":
    raise SystemExit(main())
