#!/usr/bin/env bash
# The README's picture of nabla explain: the notes' 002 network (two_layer)
# stepped to the backward pass of z2 in headless Chromium, saved as
# docs/images/explain-two-layer.png (1000 x 560 pixels).
# Usage: bash scripts/screenshot.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build/release}
out=$src/docs/images/explain-two-layer.png
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/nabla" explain --example two_layer --out "$work/page.html"
/usr/bin/python3 - "$src/tests/lib" "$work/page.html" "$out" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import cdp
page, out = sys.argv[2], sys.argv[3]
with cdp.Browser(1000, 560) as b:
    b.open("file://" + page)
    # Forward through all 11 nodes, then back from the loss to z2.
    steps = b.eval("JSON.parse(document.getElementById('data').textContent).steps")
    names = b.eval("JSON.parse(document.getElementById('data').textContent).nodes.map(n => n.name)")
    target = next(i for i, s in enumerate(steps)
                  if s["pass"] == "backward" and names[s["node"]] == "z2")
    for _ in range(target + 1):
        b.key("ArrowRight")
    if b.eval("document.body.getAttribute('data-step')") != str(target):
        sys.exit("screenshot: the page did not reach step %d" % target)
    b.screenshot(out, {"x": 0, "y": 0, "width": 1000, "height": 560})
print("wrote", out)
PY
