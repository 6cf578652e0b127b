//! Notes: a file of definitions and requests, worked into a document.
//!
//! A note file is read line by line:
//! - `# text` is prose, copied into the document (Markdown in it is kept);
//! - `diff SUBJECT wrt VAR` derives a subject (a name or an expression) step by step;
//! - `grad SUBJECT wrt A, B, ...` gives one partial derivative per variable;
//! - anything else is a definition (or several, separated by `;`), which later lines may
//!   use, and which the document shows.
//!
//! The document is Markdown with `$$ ... $$` math, a standalone LaTeX document, or a
//! self-contained HTML page that renders the math with KaTeX.

use crate::defs::Problem;
use crate::derivation::Derivation;
use crate::diff;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::print::latex::{name as latex_name, to_latex};
use crate::simplify::{self, Form};

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
        let request = trimmed.split_once(' ').filter(|(w, _)| *w == "diff" || *w == "grad");
        if let Some((verb, rest)) = request {
            let (subject, vars) =
                rest.rsplit_once(" wrt ").ok_or_else(|| bad(ErrorKind::NoteRequest { verb: verb.into() }))?;
            let text = format!("{program}\n{subject}");
            let problem =
                Problem::load(&[], &text).map_err(|e| e.relocate(program.len() + 1, offset_of(subject), src))?;
            let form = if problem.defs.is_empty() { Form::Auto } else { Form::Output };
            if verb == "diff" {
                let x = crate::parse::check_variable(vars.trim()).map_err(|e| bad(e.into_kind()))?;
                out.push(Block::Math(Derivation::new(&problem, &x, form)?.to_latex()));
            } else {
                let mut rows = Vec::new();
                for v in vars.split(',') {
                    let x = crate::parse::check_variable(v.trim()).map_err(|e| bad(e.into_kind()))?;
                    let names = problem.names(Some(&x));
                    let d = simplify::simplify(&diff::diff(&problem.inlined_target(), &x), &names, form);
                    let subject = match &problem.target_name {
                        Some(n) => latex_name(n.as_str()),
                        None => to_latex(&problem.target),
                    };
                    rows.push(format!(
                        "\\frac{{\\partial {subject}}}{{\\partial {}}} &= {}",
                        latex_name(x.as_str()),
                        to_latex(&d)
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
            out.push(Block::Math(format!("{} = {}", latex_name(def.name.as_str()), to_latex(&def.body))));
        }
        if problem.target_name.is_none() {
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
                        let body = latex_prose(t[level..].trim());
                        let body = code_spans(&body, "\\texttt{", "}");
                        match level {
                            1 => format!("\\section*{{{body}}}"),
                            2 | 3 => format!("\\subsection*{{{body}}}"),
                            _ => body,
                        }
                    }
                    Block::Math(m) => format!("\\[\n{m}\n\\]"),
                })
                .collect();
            format!(
                "\\documentclass{{article}}\n\\usepackage{{amsmath}}\n\\begin{{document}}\n\n{}\n\n\\end{{document}}\n",
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
                    _ => out.push(c),
                }
            }
        }
    }
    out
}
