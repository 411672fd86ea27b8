#!/bin/sh
# Render the calm-panel screenshots in docs/calm/ (what each shows: docs/calm/README.md).
# Not run by `make test`. Needs the project's venv (.venv), chromium and pngquant (apt).
#
#   docs/calm/render.sh            # writes docs/calm/{night-before,night-after,outage-after}.png
#
# "after" is the working tree's grafana/ folder; "before" is grafana/ at $BEFORE, the last commit
# before calm panels (issue 18). Both are drawn by this checkout's `obskit dashboards preview`
# against the pinned demo (7 days ending 2026-02-14T18:00:00Z, seed 42), started here and stopped
# at the end. Each page is 1600 CSS px wide, shot at 0.625 scale (1000 px), 64 colours.
set -eu
cd "$(dirname "$0")/../.."
BEFORE=${BEFORE:-99ccc75}
OUT=docs/calm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/before"
git archive "$BEFORE" grafana | tar -x -C "$tmp/before"

.venv/bin/python - "$tmp" "$OUT" <<'PY'
import subprocess, sys
from pathlib import Path

from obskit import config
from obskit.demo import DemoPrometheus, DemoSpec

tmp, out = Path(sys.argv[1]), Path(sys.argv[2])
SHOTS = {  # name: (grafana folder, --at: the end of the 6 h range shown)
    "night-before": (tmp / "before" / "grafana", "2026-02-10T06:00:00Z"),
    "night-after": (Path("grafana"), "2026-02-10T06:00:00Z"),
    "outage-after": (Path("grafana"), "2026-02-10T12:00:00Z"),
}
demo = DemoPrometheus(DemoSpec(), cache=config.cache_dir()).start()
try:
    for name, (grafana, at) in SHOTS.items():
        html, raw = tmp / f"{name}.html", tmp / f"{name}.png"
        subprocess.run([".venv/bin/obskit", "dashboards", "preview", "application-metrics",
                        "--prometheus", demo.url, "--at", at, "--grafana-dir", str(grafana),
                        "--out", str(html)], check=True)
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--hide-scrollbars",
                        "--window-size=1600,1380", "--force-device-scale-factor=0.625",
                        "--virtual-time-budget=5000", f"--screenshot={raw}", html.as_uri()],
                       check=True, capture_output=True)
        subprocess.run(["pngquant", "--force", "--strip", "--speed", "1", "64",
                        "--output", str(out / f"{name}.png"), str(raw)], check=True)
        print(f"wrote {out / f'{name}.png'} ({(out / f'{name}.png').stat().st_size} bytes)")
finally:
    demo.stop()
PY
