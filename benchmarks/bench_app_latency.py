"""Time from the Analyse click to results on screen, measured in a real browser (issue #13).

Run from the repository root (heavy: one at a time on a shared machine)::

    python benchmarks/bench_app_latency.py              # 2 clips, one server: a cold and a warm analysis
    python benchmarks/bench_app_latency.py --clips 3 --model lite

It builds 10 s 1920x1080 30 fps clips from ``sample_videos/squat_side_faults.mp4`` (the first 10 s,
scaled to 1080 lines and pillar-boxed, H.264) into ``--workdir`` (default ``/tmp/formcheck-bench``;
never part of the repository). Each clip is encoded at another quality, so each is a new file to the
app's analysis cache. It starts ``streamlit run app.py`` on a free 127.0.0.1 port with an empty data
folder, opens it in headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright, as the
browser tests do), and for each clip in turn uploads it, waits until the Analyse button is ready and
clicks it. The first clip is the server's first analysis ("cold"), the later ones find a server that
has analysed before ("warm").

Times are taken inside the page (``performance.now()``, a MutationObserver on the whole document),
from the click on Analyse to:

- ``progress``: the first progress bar;
- ``early``: the first provisional results (the reps completed in the part of the clip posed so far and
  their flags, shown while the pose pass runs, marked provisional);
- ``results``: the result cards (lift, reps, flags, ...; the flags list is drawn in the same script run);
- ``video``: the annotated video element able to play (``readyState >= 2``).

"First results" is the earlier of ``early`` and ``results``.

Each distinct progress text is also stamped, which shows where the time goes between the click and
the results (the stage names come from the analysis job). The 1-minute load average is printed at the
start and end of each clip: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_videos" / "squat_side_faults.mp4"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
TIMEOUT_MS = 600_000

#: Installed in the page before the click: stamps the click, the first progress bar, each progress
#: text, the results (rep card + flag list) and the playable video, in performance.now() ms.
OBSERVER_JS = """() => {
  const m = window.__fc = {click: null, progress: null, early: null, early_text: null, results: null, video: null,
                           stages: []};
  document.addEventListener('click', e => {
    if (m.click === null && e.target.closest('.st-key-fc_analyse')) m.click = performance.now();
  }, true);
  const look = () => {
    if (m.click === null) return;
    const now = performance.now();
    const bar = document.querySelector('[data-testid="stProgress"]');
    if (bar) {
      if (m.progress === null) m.progress = now;
      const text = (bar.innerText || '').trim().replace(/\\s*\\(\\d+%\\)$/, '');
      if (text && (!m.stages.length || m.stages[m.stages.length - 1][0] !== text)) m.stages.push([text, now]);
    }
    const early = document.querySelector('[class*="st-key-fc-provisional"]');
    if (m.early === null && early) { m.early = now; m.early_text = early.innerText; }
    if (m.results === null && document.querySelector('[data-testid="stMetric"]')) m.results = now;
    const v = document.querySelector('[data-testid="stVideo"]');
    if (m.video === null && v && v.readyState >= 2) m.video = now;
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, attributes: true,
                                                characterData: true});
  setInterval(look, 20);  // readyState changes are no DOM mutation
}"""


def load1() -> float:
    return os.getloadavg()[0]


def build_clip(dst: Path, crf: int, seconds: float = 10.0, size: tuple[int, int] = (1920, 1080),
               fps: int = 30) -> Path:
    """The first ``seconds`` of :data:`SAMPLE`, scaled (aspect kept, pillar-boxed) to ``size``, H.264 at ``crf``."""
    import av
    import cv2
    import numpy as np

    from formcheck import video

    if dst.is_file():
        return dst
    w, h = size
    canvas = np.zeros((h, w, 3), np.uint8)
    tmp = dst.with_name(dst.name + ".part.mp4")
    out = av.open(str(tmp), "w")
    stream = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "veryfast", "crf": str(crf),
                                                                    "g": str(2 * fps)})
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    n = 0
    for f in video.iter_frames(SAMPLE, end_ms=seconds * 1000.0 - 1.0):
        sh, sw = f.rgb.shape[:2]
        scale = min(w / sw, h / sh)
        nw, nh = int(round(sw * scale)) // 2 * 2, int(round(sh * scale)) // 2 * 2
        x0, y0 = (w - nw) // 2, (h - nh) // 2
        canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(f.rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        frame.pts, frame.time_base = n, Fraction(1, fps)
        n += 1
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    tmp.replace(dst)
    return dst


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "FORMCHECK_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"error: streamlit did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)


def _idle(page: Any) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.wait_for_timeout(300)


def _pick_model(page: Any, option: str) -> None:
    page.locator('.st-key-fc_model [role="combobox"]').click()
    page.get_by_role("option", name=option, exact=True).click()
    _idle(page)


def measure(page: Any, url: str, clip: Path, model_label: str | None) -> dict[str, Any]:
    """Upload ``clip`` on a fresh Analyse page, click Analyse; the page's stamps (ms after the click)."""
    page.goto(url)
    page.get_by_role("heading", name="Analyse a lift").wait_for(timeout=60_000)
    _idle(page)
    if model_label:
        _pick_model(page, model_label)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
    page.locator(".st-key-fc_analyse button:not([disabled])").wait_for(timeout=60_000)
    _idle(page)
    page.evaluate(OBSERVER_JS)
    load_start = load1()
    page.locator(".st-key-fc_analyse button").click()
    page.wait_for_function("window.__fc.results !== null && window.__fc.video !== null", timeout=TIMEOUT_MS,
                           polling=100)
    m = page.evaluate("window.__fc")
    c = m["click"]
    return {"progress": (m["progress"] - c) / 1000 if m["progress"] is not None else None,
            "early": (m["early"] - c) / 1000 if m["early"] is not None else None,
            "early_text": m["early_text"],
            "results": (m["results"] - c) / 1000, "video": (m["video"] - c) / 1000,
            "stages": [(text, (t - c) / 1000) for text, t in m["stages"]],
            "load": (load_start, load1())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=2, help="clips analysed one after another on one server")
    ap.add_argument("--model", choices=("lite", "full"), default="full", help="pose model picked on the page")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "formcheck-bench")
    args = ap.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: playwright is not installed", file=sys.stderr)
        return 2
    if not CHROMIUM.is_file():
        print(f"error: chromium not found at {CHROMIUM}", file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    clips = [build_clip(args.workdir / f"app_10s_1080p30_crf{20 + i}.mp4", crf=20 + i) for i in range(args.clips)]
    label = {"lite": "Lite: fastest", "full": None}[args.model]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fc-app-bench-") as tmp:
        log = Path(tmp) / "server.log"
        proc, url = start_server(Path(tmp) / "data", log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    for i, clip in enumerate(clips):
                        r = measure(page, url, clip, label)
                        r["run"] = "cold" if i == 0 else "warm"
                        r["clip"] = clip.name
                        rows.append(r)
                        print(f"# {clip.name} ({r['run']}): " + "; ".join(f"{t:.2f} s {text}" for text, t in r["stages"]),
                              flush=True)
                        if r["early_text"]:
                            print(f"# first provisional results at {r['early']:.2f} s: "
                                  + " ".join(r["early_text"].split()), flush=True)
                finally:
                    browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"\nmodel {args.model}; {os.cpu_count()} CPUs; seconds after the Analyse click\n")
    print("| clip | server | progress bar s | provisional reps and flags s | final reps and flags s "
          "| video playable s | load avg (start-end) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        prog = f"{r['progress']:.2f}" if r["progress"] is not None else "–"
        early = f"**{r['early']:.2f}**" if r["early"] is not None else "–"
        print(f"| {r['clip']} | {r['run']} | {prog} | {early} | {r['results']:.2f} | {r['video']:.2f} | "
              f"{r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
