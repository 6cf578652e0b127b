#!/usr/bin/env bash
# Renders every example note as HTML in headless Chromium and checks that every
# math block became KaTeX output with no KaTeX error, and that every `plot` line became a
# chart whose curves show in the screenshot (scripts/curve-pixels.py); leaves a
# screenshot beside the page, and one of `deriv plot 'sigmoid(z)' --order 0,1`.
# Needs target/release/deriv, scripts/node_modules/katex (npm ci), chromium and python3.
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
    # A note with plot lines has one inline chart per line in the page, and the
    # screenshot shows its curves: pixels of the first two curves' colours (the top of
    # the page holds at least two charts' worth).
    plots=$( (grep -c '^plot ' "$note" || true) )
    if [ "$plots" -gt 0 ]; then
        figures=$( (grep -o '<figure class="plot">' "$out/$stem.dom.html" || true) | wc -l)
        echo "html-check: $stem: $plots plot lines, $figures charts in the page"
        [ "$figures" -eq "$plots" ] || status=1
        python3 "$root/scripts/curve-pixels.py" "$out/$stem.png" '#0072B2:1500' '#D55E00:1500' || status=1
    fi
done
# The chart of `deriv plot`, rendered by Chromium: its two curves are drawn.
"$root/target/release/deriv" plot 'sigmoid(z)' --order 0,1 -o "$out/sigmoid.svg"
"$browser" "${flags[@]}" --virtual-time-budget=2000 --window-size=740,480 --screenshot="$out/sigmoid.png" \
    "file://$out/sigmoid.svg" >/dev/null 2>&1 || true
python3 "$root/scripts/curve-pixels.py" "$out/sigmoid.png" '#0072B2:800' '#D55E00:800' || status=1
exit "$status"
