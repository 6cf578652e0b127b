#!/usr/bin/env node
// Reads LaTeX strings, one per line, on stdin; renders each with KaTeX
// (throwOnError, strict: 'error', displayMode) and checks it is ASCII only.
// Prints "OK <latex>" or "FAIL <latex>: <message>"; exits 1 on any failure.
//
// Besides rendering, each line is linted against the rules of the shared LATEX.md
// that KaTeX itself accepts (\dfrac, \times, \sin^{-1}, {\left(, unbraced
// subscripts, capitals plain LaTeX lacks, unbalanced parentheses); --no-lint
// turns that off.
//
// Optional: --html FILE writes a preview page with every rendered line
// (server-side KaTeX output plus the local katex.min.css). Lines of the form
// "LABEL\tLATEX" are accepted; the label is shown in the page and in messages.
import katex from "katex";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const args = process.argv.slice(2);
let htmlOut = null;
let lint = true;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--html") htmlOut = args[++i];
  else if (args[i] === "--no-lint") lint = false;
  else {
    console.error(`usage: katex-check.mjs [--html FILE] [--no-lint] < lines`);
    process.exit(2);
  }
}

const OPS = "sin|cos|tan|sec|csc|cot|sinh|cosh|tanh|coth|exp|ln|log|arcsin|arccos|arctan";
const LINTS = [
  [/\\[dt]frac\b/, "rule 6: no \\dfrac/\\tfrac"],
  [/\\times\b/, "rule 5: never \\times"],
  // SymPy's \sin{\left(x \right)}: a brace group right after a name, not \frac{..}{..} or \sqrt{..}
  [/(?<!\\(?:frac|sqrt|[dt]frac|operatorname|mathit|mathrm|text))(?<=[A-Za-z'])\{\\left\(/, "rule 3: never {\\left( braces"],
  [new RegExp(`\\\\(?:${OPS})\\^\\{-`), "rule 4: negative power on an operator name (reads as an inverse)"],
  [/\\operatorname\{[^}]*\}\^\{-/, "rule 4: negative power on an operator name"],
  [/(?<!\\)_[^{]/, "rule 9: subscripts are always braced"],
  [/\\left\.|\\right\|_/, "rule 8: no \\left. ... \\right|_{...} substitution form"],
  [/\\(?:Alpha|Beta|Epsilon|Zeta|Eta|Iota|Kappa|Mu|Nu|Omicron|omicron|Rho|Tau|Chi)\b/, "rule 1: Greek command that plain LaTeX lacks"],
];
function lintProblems(tex) {
  const out = [];
  for (const [re, msg] of LINTS) if (re.test(tex)) out.push(`lint: ${msg}`);
  const lefts = (tex.match(/\\left\b/g) || []).length;
  const rights = (tex.match(/\\right\b/g) || []).length;
  if (lefts !== rights) out.push(`lint: ${lefts} \\left vs ${rights} \\right`);
  const plain = tex.replace(/\\(?:left|right)[()|.]/g, "");
  let depth = 0;
  for (const c of plain) {
    if (c === "(") depth++;
    else if (c === ")" && --depth < 0) break;
  }
  if (depth !== 0) out.push("lint: unbalanced ( )");
  return out;
}

const input = readFileSync(0, "utf8");
const lines = input.split("\n").filter((l) => l.trim() !== "");
let failures = 0;
const rows = [];

const esc = (s) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

for (const line of lines) {
  const tab = line.indexOf("\t");
  const label = tab >= 0 ? line.slice(0, tab) : null;
  const tex = tab >= 0 ? line.slice(tab + 1) : line;
  const shown = label ? `[${label}] ${tex}` : tex;
  const problems = [];
  const nonAscii = [...tex].filter((c) => c.codePointAt(0) > 0x7e || (c.codePointAt(0) < 0x20));
  if (nonAscii.length > 0) {
    problems.push(
      `non-ASCII characters: ${[...new Set(nonAscii)]
        .map((c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`)
        .join(" ")}`,
    );
  }
  if (lint) problems.push(...lintProblems(tex));
  let html = "";
  try {
    html = katex.renderToString(tex, {
      throwOnError: true,
      strict: "error",
      displayMode: true,
    });
  } catch (e) {
    problems.push(e.message);
  }
  if (problems.length === 0) {
    console.log(`OK ${shown}`);
  } else {
    failures++;
    console.log(`FAIL ${shown}: ${problems.join("; ")}`);
  }
  rows.push({ label, tex, html, problems });
}

if (htmlOut) {
  const require = createRequire(import.meta.url);
  const katexDir = dirname(require.resolve("katex/package.json"));
  const css = join(katexDir, "dist", "katex.min.css");
  const body = rows
    .map(
      (r) => `<tr class="${r.problems.length ? "fail" : ""}">
<td class="label">${esc(r.label ?? "")}</td>
<td class="math">${r.problems.length ? `<pre>${esc(r.problems.join("; "))}</pre>` : r.html}</td>
<td class="src"><code>${esc(r.tex)}</code></td></tr>`,
    )
    .join("\n");
  writeFileSync(
    htmlOut,
    `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="file://${css}">
<style>
body { font-family: sans-serif; margin: 8px; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
td { border-bottom: 1px solid #ddd; padding: 2px 6px; vertical-align: middle; }
td.label { font-size: 11px; color: #555; width: 20%; font-family: monospace; word-break: break-all; }
td.src { font-size: 10px; color: #777; width: 30%; font-family: monospace; word-break: break-all; }
td.math { overflow: hidden; }
td.math .katex-display { margin: 2px 0; text-align: left; }
td.math .katex { font-size: 1.1em; }
tr.fail { background: #fdd; }
</style></head><body><table>
${body}
</table></body></html>
`,
  );
}

process.exit(failures ? 1 : 0);
