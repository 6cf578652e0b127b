#!/usr/bin/env bash
# Renders every example note as HTML in headless Chromium and checks that every
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

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --allow-file-access-from-files --user-data-dir="$(mktemp -d)")
status=0
for note in "$root"/examples/*.deriv; do
    stem="$(basename "$note" .deriv)"
    "$root/target/release/deriv" note "$note" --format html --katex "file://$katex" > "$out/$stem.html"
    blocks=$(grep -c '<div class="math">' "$out/$stem.html")
    "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$out/$stem.html" > "$out/$stem.dom.html" 2>/dev/null
    "$browser" "${flags[@]}" --virtual-time-budget=5000 --window-size=1200,4000 --screenshot="$out/$stem.png" \
        "file://$out/$stem.html" >/dev/null 2>&1 || true
    rendered=$( (grep -o 'class="katex-display"' "$out/$stem.dom.html" || true) | wc -l)
    errors=$( (grep -o 'katex-error' "$out/$stem.dom.html" || true) | wc -l)
    echo "html-check: $stem: $blocks math blocks, $rendered rendered by KaTeX, $errors KaTeX errors (page and screenshot in $out)"
    [ "$blocks" -gt 0 ] && [ "$rendered" -eq "$blocks" ] && [ "$errors" -eq 0 ] || status=1
done
exit "$status"
