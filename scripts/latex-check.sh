#!/usr/bin/env bash
# Runs `deriv latex` and `deriv diff --format latex` over a list of expressions
# and validates every output with KaTeX (scripts/katex-check.mjs).
#
#   scripts/latex-check.sh [--html FILE]   check, and optionally write a preview page
#   scripts/latex-check.sh --emit          only print the "LABEL<TAB>LATEX" lines
#
# Needs node and `npm install` in scripts/ (katex), and a built
# target/release/deriv (cargo build --release). Exit status: 0 when every
# line renders and is ASCII only, 1 otherwise.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deriv="${DERIV:-$root/target/release/deriv}"
[ -x "$deriv" ] || { echo "missing $deriv: run cargo build --release" >&2; exit 2; }
emit=0
if [ "${1:-}" = "--emit" ]; then emit=1; shift; fi
if [ "$emit" -eq 0 ] && [ ! -d "$root/scripts/node_modules/katex" ]; then
  echo "run: (cd scripts && npm install)" >&2; exit 2
fi

# One case per line: WRT EXPR   (WRT '-' means: no derivative, only `deriv latex`).
cases=$(cat <<'LIST'
x sin(x) + cos(x) + tan(x) + sec(x) + csc(x) + cot(x)
x sinh(x) + cosh(x) + tanh(x) + sech(x) + csch(x) + coth(x)
x asin(x) + acos(x) + atan(x)
x asinh(x) + acosh(x) + atanh(x)
x exp(x) + ln(x) + log(2, x) + log(10, x)
x sqrt(x) + abs(x) + sign(x)
x erf(x) + erfc(x)
z sigmoid(z) + softplus(z)
x tanh(x)^2
x sin(x)^-1
x cosh(x)^-2
x sech(x)^2 + csch(x)^3
x sin(1/x)
x sqrt(1 + 1/x)
x tanh(x/2)
x ln(1 + 1/(1 + x))
x 1/(1 + 1/(1 + 1/x))
x (1 + x/2)^3
x abs(x/2 - 1)
z g(z)
z g'(z)
z g''(z)
z g'''(z)
z g''''(z)
x g(x^2)
x g(1/x)
x f(x, y)
x f'[1](x, y)
y f'[1,2](x, y)
x f'[2,2](x^2, x*y)
z sigma(z)
z sigma(z)^2
z σ(z)
alpha alpha*beta + gamma^2 + Gamma + omega
z relu(z) + phi(z)
w_jk x1*w_jk + x_2*w_j_k + t_k + w12
- 1e400
- 2^100000
- 1e400 + 1
- 3*2^100000
- 123456789012345678901234567890123456789
- 1/3 + 22/7
x 0.044715*x^3
x 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))
x e^(-x^2/2)
x e^(x^2)
x sqrt(2/pi)
x 1/sqrt(2*pi)*e^(-x^2/2)
x x^-3 + x^(1/2) + x^(-1/2) + 2^x
x 2*3^x
x x^x
x e^(e^x)
z e^z/(1+e^z)
z 1/(1+e^-z)
x sinh(x)/cosh(x)
w1 (g(x1*w1 + x2*w2) - t)^2/2
w1 1/2*(tanh(x1*w1 + x2*w2) - t)^2
x -x + -(-x) - (a - b)
x p*(1 - p) + x
- 2^200
- 10^100 + 1
- 2*10^30
- 1e-400
- 1/2^300
x x/1024
- 1.5e-7
w_alpha w_alpha*x_alpha1 + alpha1
x Δx + µ + ϑ
z g_1(z) + g2(z) + sigma2(z)
LIST
)

errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
produce() {
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    wrt="${line%% *}"
    expr="${line#* }"
    if out=$("$deriv" latex -- "$expr" 2>&1); then
      printf 'latex %s\t%s\n' "$expr" "$out"
    else
      printf 'ERROR deriv latex %s: %s\n' "$expr" "$out" >&2
      echo x >>"$errfile"
    fi
    [ "$wrt" = "-" ] && continue
    if out=$("$deriv" diff --wrt "$wrt" --format latex -- "$expr" 2>&1); then
      printf 'd/d%s %s\t%s\n' "$wrt" "$expr" "$out"
    else
      printf 'ERROR deriv diff --wrt %s %s: %s\n' "$wrt" "$expr" "$out" >&2
      echo x >>"$errfile"
    fi
  done <<<"$cases"
}
if [ "$emit" -eq 1 ]; then produce; [ -s "$errfile" ] && exit 1; exit 0; fi
produce | node "$root/scripts/katex-check.mjs" "$@"
status=${PIPESTATUS[1]}
[ -s "$errfile" ] && status=1
exit "$status"
