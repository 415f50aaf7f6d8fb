#!/usr/bin/env python3
"""Build pose_landmarker_{lite,full,heavy}.task from registry packages (see formcheck/modelbuild.py).

Examples
--------
Rebuild the bundled models (byte-identical to the committed ones)::

    python scripts/build_pose_models.py

Build heavy elsewhere::

    python scripts/build_pose_models.py --variants heavy --out /tmp/models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from formcheck.models import MODEL_NAMES  # noqa: E402
from formcheck.modelbuild import MODELS_JSON, ModelBuildError, build_models, default_sources_dir  # noqa: E402


def _variants(text: str) -> list[str]:
    names = [v.strip().lower() for v in text.split(",") if v.strip()]
    bad = [v for v in names if v not in MODEL_NAMES]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(MODEL_NAMES)}, got {text!r}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "formcheck" / "models",
        help="output folder for the .task files and MODELS.json (default: formcheck/models)",
    )
    parser.add_argument(
        "--variants", type=_variants, default=["lite", "full"],
        help="comma list of lite,full,heavy (default: lite,full, the bundled ones)",
    )
    parser.add_argument(
        "--cache", type=Path, default=None,
        help=f"folder caching the downloaded source archives (default: {default_sources_dir()})",
    )
    args = parser.parse_args(argv)
    try:
        built = build_models(args.variants, args.out, args.cache or default_sources_dir())
    except ModelBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for b in built:
        print(f"{b.path}  {b.size_bytes:>11,d} B  sha256 {b.sha256}")
    print(f"{args.out / MODELS_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
