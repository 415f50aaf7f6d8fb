#!/usr/bin/env bash
# Install formcheck into ./.venv, with the system libraries it needs.
#   bash scripts/install.sh            # system packages (when root on Debian/Ubuntu) + venv + package + test tools
#   FORMCHECK_NO_APT=1 bash scripts/install.sh   # skip apt (install the packages below yourself)
#   FORMCHECK_EXTRAS=test,scale bash scripts/install.sh   # other extras (default: test); .ci/run adds scale (Ray)
# System packages: libgl1 and libglib2.0-0 (OpenCV, pulled in by mediapipe, needs them);
# chromium and iproute2 (only for the browser tests: real playback, and the live test's loopback-only network namespace);
# postgresql (only for the storage tests, which start their own server from its binaries in
# /usr/lib/postgresql/<major>/bin; its own "main" cluster is not needed and not started).
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES="libgl1 libglib2.0-0 chromium iproute2 postgresql"
if [ -z "${FORMCHECK_NO_APT:-}" ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    missing=""
    for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
      echo "formcheck: installing system packages:$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
  else
    echo "formcheck: not root, skipping apt; make sure these are installed: $APT_PACKAGES"
  fi
fi
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${FORMCHECK_EXTRAS:-test}]"
# exactly one OpenCV distribution must be installed (mediapipe's opencv-contrib-python)
.venv/bin/python - <<'PYEOF'
from importlib import metadata
cv = sorted(d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"] and d.metadata["Name"].lower().startswith("opencv"))
if len(cv) != 1:
    raise SystemExit(f"formcheck: expected exactly one OpenCV distribution, got {cv}")
print(f"formcheck: installed ({cv[0]})")
PYEOF
