#!/usr/bin/env bash
# Screenshot of the HTML report at laptop width, as docs/report_screenshot.png was made:
#   scripts/report_screenshot.sh results/summary/report.html docs/report_screenshot.png
# Needs Debian's `chromium` (apt-get install chromium).
set -euo pipefail
report=$(realpath "${1:-results/summary/report.html}")
out=$(realpath -m "${2:-docs/report_screenshot.png}")
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --disable-sync \
    --screenshot="$out" --window-size=1280,900 "file://$report" 2>/dev/null
echo "$out"
