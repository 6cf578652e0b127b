//! Notes: a file of definitions and requests, worked into a document.
//!
//! A note file is read line by line:
//! - `# text` is prose, copied into the document (Markdown in it is kept);
//! - `diff SUBJECT wrt VAR` derives a subject (a name, an element `p[i]` of an indexed
//!   definition, or an expression) step by step, by a variable or an element `z[j]`,
//!   as `deriv diff --steps --wrt VAR` does (where steps are not available, as for an
//!   element today, the result is shown);
//! - `diff SUBJECT wrt VAR where K = 2, z[1] = 0` specialises first: a plain name
//!   given a whole number that the subject does not use is a size (`--size`), the rest
//!   are values put in (`--at`; see [`crate::specialise`]);
//! - `grad SUBJECT wrt A, B, ...` gives one partial derivative per variable or element
//!   (`grad E wrt w[j,k], x[j]`);
//! - `assume LHS = RHS` is a fact (`--assume`) that the requests after it may use, such
//!   as `assume sum(k, t[k]) = 1`;
//! - anything else is a definition (or several, separated by `;`), which later lines may
//!   use, and which the document shows.
//!
//! The document is Markdown with `$$ ... $$` math, a standalone LaTeX document, or a
//! self-contained HTML page that renders the math with KaTeX.

use crate::defs::Problem;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::expr::{Expr, Func, Sym};
use crate::matrix::Options;
use crate::output::{Format, Output};
use crate::print::latex::{name as latex_name, to_latex};
use crate::request::{self, Diff, Input, Settings};

/// An output format for notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum NoteFormat {
    /// Markdown with `$$` display math.
    Markdown,
    /// A standalone LaTeX document.
    Latex,
    /// An HTML page rendered with KaTeX.
    Html,
}

/// One block of a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Prose.
    Text(String),
    /// Display math.
    Math(String),
}

/// Where KaTeX is loaded from in HTML notes unless another location is given.
pub const KATEX_CDN: &str = "https://cdn.jsdelivr.net/npm/katex@0.16.11/dist";

/// Works a note file into blocks of prose and math. A note with no math in it (no
/// definition, expression or request) is an error: it is most likely the wrong file.
pub fn blocks(src: &str) -> Result<Vec<Block>> {
    let mut out = Vec::new();
    let mut program = String::new();
    // Where a piece of the note, parsed after `program` and a newline, starts in `src`.
    let offset_of = |piece: &str| piece.as_ptr() as usize - src.as_ptr() as usize;
    let mut offset = 0;
    // The facts of the `assume` lines so far.
    let mut facts: Vec<String> = Vec::new();
    for line in src.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        let span = Span::new(start, start + line.len());
        let bad = |kind: ErrorKind| Error::at(kind, span, src);
        if trimmed.is_empty() {
            continue;
        }
        if let Some(text) = trimmed.strip_prefix('#') {
            let text = text.trim();
            if !text.is_empty() {
                out.push(Block::Text(text.to_owned()));
            }
            continue;
        }
        if let Some(fact) = trimmed.strip_prefix("assume ") {
            // A fact for the requests after it: checked now, against what came before.
            let problem = Problem::load(&[], &format!("{program}\n0")).map_err(|e| bad(e.into_kind()))?;
            Options::new(&problem).assuming(&[fact.to_owned()]).map_err(|e| bad(e.into_kind()))?;
            let shown: Vec<String> = fact
                .split('=')
                .map(|side| crate::parse::parse_expr(side).map_or_else(|_| side.trim().to_owned(), |e| to_latex(&e)))
                .collect();
            out.push(Block::Math(format!("\\text{{assume}}\\quad {}", shown.join(" = "))));
            facts.push(fact.to_owned());
            continue;
        }
        let request = trimmed.split_once(' ').filter(|(w, _)| *w == "diff" || *w == "grad");
        if let Some((verb, rest)) = request {
            let (subject, vars) =
                rest.rsplit_once(" wrt ").ok_or_else(|| bad(ErrorKind::NoteRequest { verb: verb.into() }))?;
            let (vars, spec) = match vars.split_once(" where ") {
                Some((v, w)) if verb == "diff" => (v, Some(w)),
                _ => (vars, None),
            };
            let text = format!("{program}\n{subject}");
            let input = Input::load(&[], &text).map_err(|e| e.relocate(program.len() + 1, offset_of(subject), src))?;
            let settings = Settings { assume: facts.clone(), ..Settings::default() };
            let (sizes, at) = match spec {
                Some(spec) => {
                    let (sizes, at) = specialisation(spec, &input.problem().inlined_target().free_vars());
                    out.push(Block::Math(format!("\\text{{where}}\\quad {}", spec_latex(spec))));
                    (sizes, at)
                }
                None => (None, None),
            };
            let subject_latex = match &input.problem().target_name {
                Some(n) => latex_name(n.as_str()),
                None => to_latex(&input.problem().target),
            };
            if verb == "diff" {
                let wrt = vars.trim().to_owned();
                let req = Diff { wrt: Some(wrt.clone()), order: 1, steps: true, sizes, at };
                let out_ = derivative(&input, req, &settings).map_err(|e| bad(e.into_kind()))?;
                out.push(Block::Math(shown(&out_, &subject_latex, &wrt)));
            } else {
                let mut rows = Vec::new();
                for v in split_top_nonempty(vars) {
                    let req = Diff { wrt: Some(v.to_owned()), order: 1, steps: false, sizes: None, at: None };
                    let d = request::diff(&input, &req, &settings).map_err(|e| bad(e.into_kind()))?;
                    rows.push(format!(
                        "\\frac{{\\partial {subject_latex}}}{{\\partial {}}} &= {}",
                        var_latex(v),
                        d.render(Format::Latex).trim_end()
                    ));
                }
                out.push(Block::Math(format!("\\begin{{aligned}}\n{}\n\\end{{aligned}}", rows.join(" \\\\\n"))));
            }
            continue;
        }
        // A definition: check it now, against what came before, and show it.
        let text = format!("{program}\n{line}");
        let problem = Problem::load(&[], &text).map_err(|e| e.relocate(program.len() + 1, offset_of(line), src))?;
        for def in problem.defs.iter().skip(Problem::load(&[], &format!("{program}\n0")).map_or(0, |p| p.defs.len())) {
            let name = if def.params.is_empty() {
                latex_name(def.name.as_str())
            } else {
                let params = def.params.iter().map(|i| Expr::sym(i.clone())).collect();
                to_latex(&Expr::call(Func::Indexed(def.name.clone()), params))
            };
            out.push(Block::Math(format!("{name} = {}", to_latex(&def.body))));
        }
        let known = Problem::load(&[], &format!("{program}\n0")).map_or(0, |p| p.functions.len());
        for def in problem.functions.iter().skip(known) {
            let params = def.args.iter().map(|a| Expr::sym(a.clone())).collect();
            let head = Expr::call(
                Func::Abstract(crate::expr::AbstractFn { name: def.name.clone(), partials: Vec::new() }),
                params,
            );
            out.push(Block::Math(format!("{} = {}", to_latex(&head), to_latex(&def.body))));
        }
        if problem.target_name.is_none() && problem.functions.len() == known {
            // A bare expression is shown; it defines nothing for the lines after it.
            out.push(Block::Math(to_latex(&problem.target)));
        } else {
            program = text;
        }
    }
    if !out.iter().any(|b| matches!(b, Block::Math(_))) {
        return Err(Error::at(ErrorKind::EmptyNote, Span::at(src.len()), src));
    }
    Ok(out)
}

/// The note as a document in `format`; `katex` is where an HTML page loads KaTeX from.
pub fn render(blocks: &[Block], format: NoteFormat, katex: &str) -> String {
    match format {
        NoteFormat::Markdown => blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => format!("{t}\n"),
                Block::Math(m) => format!("$$\n{m}\n$$\n"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        NoteFormat::Latex => {
            let body: Vec<String> = blocks
                .iter()
                .map(|b| match b {
                    Block::Text(t) => {
                        let level = t.chars().take_while(|&c| c == '#').count();
                        let body: String = t[level..]
                            .trim()
                            .split('`')
                            .enumerate()
                            .map(|(i, part)| {
                                if i % 2 == 1 {
                                    format!("\\texttt{{{}}}", latex_code(part))
                                } else {
                                    latex_prose(part)
                                }
                            })
                            .collect();
                        match level {
                            1 => format!("\\section*{{{body}}}"),
                            2 | 3 => format!("\\subsection*{{{body}}}"),
                            _ => body,
                        }
                    }
                    // A derivation may be taller than a page: as `align*` (under
                    // `\allowdisplaybreaks`) it breaks between rows, where an `aligned`
                    // block inside `\[ \]` would run off the bottom.
                    Block::Math(m) => {
                        match m.strip_prefix("\\begin{aligned}").and_then(|m| m.strip_suffix("\\end{aligned}")) {
                            Some(rows) => format!("\\begin{{align*}}{rows}\\end{{align*}}"),
                            None => format!("\\[\n{m}\n\\]"),
                        }
                    }
                })
                .collect();
            format!(
                "\\documentclass{{article}}\n\\usepackage{{amsmath}}\n\\allowdisplaybreaks\n\\begin{{document}}\n\n{}\n\n\\end{{document}}\n",
                body.join("\n\n")
            )
        }
        NoteFormat::Html => {
            let body: Vec<String> = blocks
                .iter()
                .map(|b| match b {
                    Block::Text(t) => {
                        let level = t.chars().take_while(|&c| c == '#').count();
                        let body = html_escape(t[level..].trim());
                        let body = code_spans(&body, "<code>", "</code>");
                        match level {
                            1..=3 => format!("<h{level}>{body}</h{level}>"),
                            _ => format!("<p>{body}</p>"),
                        }
                    }
                    Block::Math(m) => format!("<div class=\"math\">{}</div>", html_escape(m)),
                })
                .collect();
            format!(
                "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>deriv note</title>\n\
                 <link rel=\"stylesheet\" href=\"{katex}/katex.min.css\">\n<script src=\"{katex}/katex.min.js\"></script>\n\
                 <style>body {{ max-width: 50em; margin: 2em auto; font-family: serif; }}</style>\n</head>\n<body>\n{}\n\
                 <script>\nfor (const el of document.querySelectorAll('.math')) {{\n  \
                 katex.render(el.textContent, el, {{ displayMode: true, throwOnError: false }});\n}}\n</script>\n</body>\n</html>\n",
                body.join("\n")
            )
        }
    }
}

/// A derivative for a note: step by step where the request can show the steps (a
/// derivative by an element, or with facts, may not yet), the result otherwise.
fn derivative(input: &Input, req: Diff, settings: &Settings) -> Result<Output> {
    match request::diff(input, &req, settings) {
        Err(e) if matches!(e.kind(), ErrorKind::IndexedUnsupported { .. } | ErrorKind::StepsAssume) => {
            request::diff(input, &Diff { steps: false, ..req }, settings)
        }
        other => other,
    }
}

/// A derivative as display math: its steps as they are, a result as an equation.
fn shown(out: &Output, subject: &str, wrt: &str) -> String {
    let body = out.render(Format::Latex).trim_end().to_owned();
    if body.starts_with("\\begin{aligned}") {
        return body;
    }
    let d = if wrt.contains('[') { "\\partial" } else { "d" };
    format!("\\frac{{{d} {subject}}}{{{d} {}}} = {body}", var_latex(wrt))
}

/// A variable or an element (`z[j]`) in LaTeX.
fn var_latex(v: &str) -> String {
    crate::parse::parse_expr(v.trim()).map_or_else(|_| v.trim().to_owned(), |e| to_latex(&e))
}

/// A `where` clause, `K = 2, z[1] = 0`, as the sizes and the values of a request: a
/// plain name given a whole number that the subject does not use is a size (the sums
/// over `k` run to `K`), anything else a value put in.
fn specialisation(spec: &str, used: &[Sym]) -> (Option<String>, Option<String>) {
    let (mut sizes, mut values) = (Vec::new(), Vec::new());
    for part in split_top_nonempty(spec) {
        let (lhs, rhs) = part.split_once('=').unwrap_or((part, ""));
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        let size = crate::parse::check_variable(lhs).is_ok_and(|x| !used.contains(&x))
            && rhs.parse::<u32>().is_ok_and(|n| n > 0);
        if size { &mut sizes } else { &mut values }.push(format!("{lhs}={rhs}"));
    }
    let joined = |v: Vec<String>| (!v.is_empty()).then(|| v.join(","));
    (joined(sizes), joined(values))
}

/// A `where` clause in LaTeX: its equations, separated by commas.
fn spec_latex(spec: &str) -> String {
    let parts: Vec<String> = split_top_nonempty(spec)
        .iter()
        .map(|part| part.split('=').map(var_latex).collect::<Vec<_>>().join(" = "))
        .collect();
    parts.join(",\\; ")
}

/// `code` spans between backticks, opened and closed with the given markup.
fn code_spans(s: &str, open: &str, close: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("{open}{part}{close}") } else { part.to_owned() })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Code for LaTeX's `\texttt`: every special character escaped, `*` kept.
fn latex_code(t: &str) -> String {
    t.chars()
        .map(|c| match c {
            '&' | '%' | '_' | '#' | '{' | '}' | '$' => format!("\\{c}"),
            '^' | '~' | '\\' => latex_special(c).to_owned(),
            _ => c.to_string(),
        })
        .collect()
}

/// The LaTeX for a character that has no escape by backslash.
fn latex_special(c: char) -> &'static str {
    match c {
        '^' => "\\^{}",
        '~' => "\\~{}",
        _ => "\\textbackslash{}",
    }
}

/// Prose for LaTeX: special characters escaped, `$...$` math kept.
fn latex_prose(t: &str) -> String {
    let mut out = String::new();
    for (i, part) in t.split('$').enumerate() {
        if i % 2 == 1 {
            out.push('$');
            out.push_str(part);
            out.push('$');
        } else {
            for c in part.chars() {
                match c {
                    '&' | '%' | '_' | '#' | '{' | '}' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '*' => {}
                    '^' | '~' | '\\' => out.push_str(latex_special(c)),
                    _ => out.push(c),
                }
            }
        }
    }
    out
}
/// `s` split at the commas outside brackets and parentheses (`w[j,k], x[j]`), trimmed,
/// without empty parts.
fn split_top_nonempty(s: &str) -> Vec<&str> {
    crate::parse::split_outside_brackets(s).into_iter().filter(|p| !p.is_empty()).collect()
}
