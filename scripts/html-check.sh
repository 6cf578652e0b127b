#!/usr/bin/env bash
# Renders the activations note as HTML in headless Chromium and checks that every
# math block became KaTeX output with no KaTeX error; leaves a screenshot beside the
# page. Needs target/release/deriv, scripts/node_modules/katex (npm ci) and chromium.
#
#   scripts/html-check.sh [OUT_DIR]      default OUT_DIR: target/html-check
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/html-check}"
mkdir -p "$out"
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "html-check: chromium is not installed" >&2; exit 2; }
katex="$root/scripts/node_modules/katex/dist"
[ -d "$katex" ] || { echo "html-check: run (cd scripts && npm ci) first" >&2; exit 2; }

"$root/target/release/deriv" note "$root/examples/activations.deriv" --format html --katex "file://$katex" > "$out/activations.html"
blocks=$(grep -c '<div class="math">' "$out/activations.html")
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --allow-file-access-from-files --user-data-dir="$(mktemp -d)")
"$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$out/activations.html" > "$out/dom.html" 2>/dev/null
"$browser" "${flags[@]}" --virtual-time-budget=5000 --window-size=1200,4000 --screenshot="$out/activations.png" \
    "file://$out/activations.html" >/dev/null 2>&1 || true
rendered=$( (grep -o 'class="katex-display"' "$out/dom.html" || true) | wc -l)
errors=$( (grep -o 'katex-error' "$out/dom.html" || true) | wc -l)
echo "html-check: $blocks math blocks, $rendered rendered by KaTeX, $errors KaTeX errors (page and screenshot in $out)"
[ "$blocks" -gt 0 ] && [ "$rendered" -eq "$blocks" ] && [ "$errors" -eq 0 ]
