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
//! - `plot F, d/dz F for z in -6..6` draws a chart of its curves, each an expression
//!   or a derivative of one (`d^2/dz^2 F`), as `deriv plot` does (see [`mod@crate::plot`]);
//!   `for ...` may be left out (the only variable, from -6 to 6);
//! - `assume LHS = RHS` is a fact (`--assume`) that the requests after it may use, such
//!   as `assume sum(k, t[k]) = 1`;
//! - anything else is a definition (or several, separated by `;`), which later lines may
//!   use, and which the document shows.
//!
//! The document is Markdown with `$$ ... $$` math (its charts SVG files beside it), a
//! standalone LaTeX document (charts in pgfplots), or a self-contained HTML page that
//! renders the math with KaTeX (charts inline SVG).

use crate::defs::Problem;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::expr::{Expr, Func, Sym};
use crate::matrix::Options;
use crate::output::{Format, Output};
use crate::plot::{self, Chart};
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
    /// A chart: inline SVG in HTML, an image file beside Markdown, pgfplots in LaTeX.
    Plot(Box<Figure>),
}

/// A chart of a note's `plot` line: its curves and its SVG (the same as `deriv plot`
/// draws).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The curves, as sampled.
    pub chart: Chart,
    /// The chart as SVG.
    pub svg: String,
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
        let statement = statement(trimmed).map_err(bad)?;
        if let Statement::Prose(text) = statement {
            if !text.is_empty() {
                out.push(Block::Text(text.to_owned()));
            }
            continue;
        }
        if let Statement::Assume(fact) = statement {
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
        if let Statement::Plot(rest) = statement {
            let relocate = |e: Error, piece: &str| e.relocate(program.len() + 1, offset_of(piece), src);
            out.push(Block::Plot(Box::new(figure(rest, &program, &facts, &bad, &relocate)?)));
            continue;
        }
        if let Statement::Request { verb, subject, vars, spec } = statement {
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
            if verb == Verb::Diff {
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
    if !out.iter().any(|b| matches!(b, Block::Math(_) | Block::Plot(_))) {
        return Err(Error::at(ErrorKind::EmptyNote, Span::at(src.len()), src));
    }
    Ok(out)
}

/// What a line of a note (or of the REPL, which reads the same lines) says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Statement<'a> {
    /// `# text`: prose (the text after `#`, trimmed).
    Prose(&'a str),
    /// `assume LHS = RHS`: a fact for the requests after it.
    Assume(&'a str),
    /// `plot F, d/dz F for z in A..B`: a chart (the text after `plot`).
    Plot(&'a str),
    /// `diff SUBJECT wrt VAR [where ...]` or `grad SUBJECT wrt A, B`.
    Request { verb: Verb, subject: &'a str, vars: &'a str, spec: Option<&'a str> },
    /// Anything else: definitions, or an expression.
    Definitions(&'a str),
}

/// The requests of a note line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `diff SUBJECT wrt VAR`.
    Diff,
    /// `grad SUBJECT wrt A, B`.
    Grad,
}

/// What the (trimmed, non-empty) line says; a request without `wrt` is an error.
pub(crate) fn statement(line: &str) -> std::result::Result<Statement<'_>, ErrorKind> {
    if let Some(text) = line.strip_prefix('#') {
        return Ok(Statement::Prose(text.trim()));
    }
    if let Some(fact) = line.strip_prefix("assume ") {
        return Ok(Statement::Assume(fact));
    }
    if let Some(rest) = line.strip_prefix("plot ") {
        return Ok(Statement::Plot(rest));
    }
    let request = line.split_once(' ').and_then(|(w, rest)| match w {
        "diff" => Some((Verb::Diff, w, rest)),
        "grad" => Some((Verb::Grad, w, rest)),
        _ => None,
    });
    let Some((verb, word, rest)) = request else { return Ok(Statement::Definitions(line)) };
    let (subject, vars) = rest.rsplit_once(" wrt ").ok_or_else(|| ErrorKind::NoteRequest { verb: word.into() })?;
    let (vars, spec) = match vars.split_once(" where ") {
        Some((v, w)) if verb == Verb::Diff => (v, Some(w)),
        _ => (vars, None),
    };
    Ok(Statement::Request { verb, subject, vars, spec })
}

/// The note as a document in `format`; `katex` is where an HTML page loads KaTeX from.
/// A Markdown document's figures are `figure-1.svg`, `figure-2.svg`... ([`render_named`]).
pub fn render(blocks: &[Block], format: NoteFormat, katex: &str) -> String {
    render_named(blocks, format, katex, "figure")
}

/// The figures of a Markdown document, `STEM-1.svg`, `STEM-2.svg`..., each named with
/// its SVG, for writing beside the document.
pub fn figures(blocks: &[Block], stem: &str) -> Vec<(String, String)> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Plot(f) => Some(f.svg.clone()),
            _ => None,
        })
        .enumerate()
        .map(|(i, svg)| (figure_name(stem, i), svg))
        .collect()
}

fn figure_name(stem: &str, i: usize) -> String {
    format!("{stem}-{}.svg", i + 1)
}

/// [`render`], a Markdown document showing its figures as [`figures`] names them.
pub fn render_named(blocks: &[Block], format: NoteFormat, katex: &str, stem: &str) -> String {
    let mut n_figures = 0;
    let mut next_figure = || {
        n_figures += 1;
        figure_name(stem, n_figures - 1)
    };
    match format {
        NoteFormat::Markdown => blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => format!("{t}\n"),
                Block::Math(m) => format!("$$\n{m}\n$$\n"),
                Block::Plot(f) => {
                    let alt: Vec<String> = f.chart.curves.iter().map(|c| c.label.replace(['[', ']'], "")).collect();
                    format!("![{}]({})\n", alt.join("; "), next_figure())
                }
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
                    // pgfplots rather than an included image: the curves in vector form,
                    // the labels in the document's own math, and no file beside the `.tex`.
                    Block::Plot(f) => format!("\\begin{{center}}\n{}\\end{{center}}", plot::pgfplots(&f.chart)),
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
            let pgfplots = if blocks.iter().any(|b| matches!(b, Block::Plot(_))) {
                "\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.18}\n"
            } else {
                ""
            };
            format!(
                "\\documentclass{{article}}\n\\usepackage{{amsmath}}\n{pgfplots}\\allowdisplaybreaks\n\\begin{{document}}\n\n{}\n\n\\end{{document}}\n",
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
                    Block::Plot(f) => format!("<figure class=\"plot\">\n{}</figure>", f.svg),
                })
                .collect();
            format!(
                "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>deriv note</title>\n\
                 <link rel=\"stylesheet\" href=\"{katex}/katex.min.css\">\n<script src=\"{katex}/katex.min.js\"></script>\n\
                 <style>body {{ max-width: 50em; margin: 2em auto; font-family: serif; }} \
                 figure.plot svg {{ max-width: 100%; height: auto; }}</style>\n</head>\n<body>\n{}\n\
                 <script>\nfor (const el of document.querySelectorAll('.math')) {{\n  \
                 katex.render(el.textContent, el, {{ displayMode: true, throwOnError: false }});\n}}\n</script>\n</body>\n</html>\n",
                body.join("\n")
            )
        }
    }
}

/// The chart of a `plot` line's `rest`: `F, d/dz F, d^2/dz^2 G for z in A..B`, each
/// curve an expression (using the definitions of `program`) or a derivative of one;
/// `for ...` may be left out (the only variable, [`plot::DEFAULT_RANGE`]). `bad` places
/// an error on the line, `relocate` one found in a piece of it.
fn figure(
    rest: &str,
    program: &str,
    facts: &[String],
    bad: &dyn Fn(ErrorKind) -> Error,
    relocate: &dyn Fn(Error, &str) -> Error,
) -> Result<Figure> {
    let (items, over) = match rest.rsplit_once(" for ") {
        Some((items, over)) => (items, Some(over)),
        None => (rest, None),
    };
    let (wrt, range) = match over {
        Some(over) => {
            let (v, range) = over.split_once(" in ").ok_or_else(|| bad(ErrorKind::NotePlot))?;
            let range = plot::parse_range(range.trim()).map_err(|e| bad(e.into_kind()))?;
            (Some(v.trim().to_owned()), Some(range))
        }
        None => (None, None),
    };
    let mut inputs = Vec::new();
    let mut wrt_of_items: Option<String> = None;
    for item in split_top_nonempty(items) {
        let (order, var, expr) = derivative_item(item);
        match (var, wrt.as_deref().or(wrt_of_items.as_deref())) {
            (Some(v), Some(w)) if v != w => return Err(bad(ErrorKind::NotePlot)),
            (Some(v), _) => wrt_of_items = Some(v.to_owned()),
            _ => {}
        }
        let input = Input::load(&[], &format!("{program}\n{expr}")).map_err(|e| relocate(e, expr))?;
        inputs.push((input, vec![order]));
    }
    if inputs.is_empty() {
        return Err(bad(ErrorKind::NotePlot));
    }
    let settings = Settings { assume: facts.to_vec(), ..Settings::default() };
    let req = plot::Request { wrt: wrt.or(wrt_of_items), range, settings };
    let chart = plot::chart(&inputs, &req).map_err(|e| bad(e.into_kind()))?;
    let svg = plot::svg(&chart).map_err(|e| bad(e.into_kind()))?;
    Ok(Figure { chart, svg })
}

/// A curve of a `plot` line: `d/dz EXPR` (or `d^2/dz^2 EXPR`) as its order, variable
/// and expression; anything else is an expression, of order 0.
fn derivative_item(item: &str) -> (u64, Option<&str>, &str) {
    let whole = (0, None, item);
    let Some(rest) = item.strip_prefix('d') else { return whole };
    let power = |s: &str| -> Option<(u64, usize)> {
        let digits = s.strip_prefix('^')?.bytes().take_while(u8::is_ascii_digit).count();
        Some((s[1..=digits].parse().ok()?, digits + 1))
    };
    let (order, rest) = match power(rest) {
        Some((n, len)) => (n, &rest[len..]),
        None => (1, rest),
    };
    let Some(rest) = rest.strip_prefix("/d") else { return whole };
    let len = rest.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
    let (var, rest) = rest.split_at(len);
    let rest = match power(rest) {
        Some((n, l)) if n == order => &rest[l..],
        Some(_) => return whole,
        None if order == 1 => rest,
        None => return whole,
    };
    match rest.strip_prefix(' ') {
        Some(expr) if !var.is_empty() && !expr.trim().is_empty() => (order, Some(var), expr.trim()),
        _ => whole,
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
pub(crate) fn specialisation(spec: &str, used: &[Sym]) -> (Option<String>, Option<String>) {
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
