//! The shared hostile-input corpus (`tests/data/bad-inputs.txt`, a copy of
//! `../shared/bad-inputs/bad-inputs.txt`): every case
//! through every subcommand of the built `deriv` binary.
//!
//! The file's format is decoded here (the same as `bad_inputs.py` beside it). Each text
//! or generated case runs under each subcommand, in argv as raw bytes where argv can carry
//! them and through stdin (`-`) where it cannot (a NUL byte, or more than Linux's 128 KiB
//! per argument); `note` reads it from stdin as a note file. `ARGS` cases run once, as
//! given. Every run must finish within [`CPU_LIMIT`] of processor time, exit 0 or 2 and
//! never by a panic (101) or a signal, print nothing on stdout when it fails, and keep
//! control and direction-changing characters out of stderr; an expected error must be one
//! error with the input line echoed and the caret under the expected column, counted in
//! Unicode scalars. The runs are independent processes, run on every core at once.

use std::ffi::OsString;
use std::time::Duration;

use crate::support::binary;

/// The most processor time a single run may use (the binary is usually a debug build;
/// the corpus asks for a few seconds of a release build).
const CPU_LIMIT: Duration = Duration::from_secs(8);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Ok,
    Err,
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Col {
    At(usize),
    End,
}

#[derive(Debug)]
enum Input {
    Bytes(Vec<u8>),
    Args(Vec<String>),
}

#[derive(Debug)]
struct Case {
    line: usize,
    tag: String,
    expect: Expect,
    col: Option<Col>,
    input: Input,
}

/// Decodes `\n \r \t \0 \\ \" \u{H..}` (UTF-8 encoded) and `\xHH` (one raw byte).
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let (_, n) = chars.next().ok_or_else(|| format!("dangling backslash in {s:?}"))?;
        match n {
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' => {
                let hex = s.get(i + 2..i + 4).ok_or_else(|| format!("short \\x escape in {s:?}"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("{e} in {s:?}"))?);
                chars.next();
                chars.next();
            }
            'u' => {
                let rest = &s[i + 2..];
                let close = rest.find('}').filter(|_| rest.starts_with('{')).ok_or(format!("bad \\u in {s:?}"))?;
                let v = u32::from_str_radix(&rest[1..close], 16).map_err(|e| format!("{e} in {s:?}"))?;
                let c = char::from_u32(v).ok_or_else(|| format!("not a scalar: {v:x}"))?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                for _ in 0..=close {
                    chars.next();
                }
            }
            other => return Err(format!("unknown escape \\{other} in {s:?}")),
        }
    }
    Ok(out)
}

/// A token of a `GEN` spec: a quoted string (decoded) or a bare word.
enum Tok {
    Str(Vec<u8>),
    Word(String),
}

fn gen_tokens(spec: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut rest = spec.trim_start();
    while !rest.is_empty() {
        if let Some(body) = rest.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.ok_or_else(|| format!("unterminated string in {spec:?}"))?;
            toks.push(Tok::Str(unescape(&body[..end])?));
            rest = body[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            toks.push(Tok::Word(rest[..end].to_owned()));
            rest = rest[end..].trim_start();
        }
    }
    Ok(toks)
}

fn generate(spec: &str) -> Result<Vec<u8>, String> {
    let toks = gen_tokens(spec)?;
    let s = |i: usize| match toks.get(i) {
        Some(Tok::Str(b)) => Ok(b.clone()),
        _ => Err(format!("argument {i} of {spec:?} should be a string")),
    };
    let n = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => w.parse::<usize>().map_err(|e| format!("{e} in {spec:?}")),
        _ => Err(format!("argument {i} of {spec:?} should be a count")),
    };
    let op = match toks.first() {
        Some(Tok::Word(w)) => w.as_str(),
        _ => return Err(format!("no GEN operation in {spec:?}")),
    };
    Ok(match op {
        "str" => s(1)?,
        "repeat" => s(1)?.repeat(n(2)?),
        "nest" => [s(1)?.repeat(n(2)?), s(3)?, s(4)?.repeat(n(2)?)].concat(),
        "join" => {
            let (sep, item) = (s(1)?, s(3)?);
            let text = String::from_utf8(item).map_err(|e| e.to_string())?;
            let items: Vec<Vec<u8>> = (1..=n(2)?).map(|k| text.replace("{i}", &k.to_string()).into_bytes()).collect();
            items.join(&sep[..])
        }
        "seq" => {
            let mut out = Vec::new();
            for k in (1..toks.len()).step_by(2) {
                out.extend(s(k)?.repeat(n(k + 1)?));
            }
            out
        }
        _ => return Err(format!("unknown GEN operation {op:?}")),
    })
}

fn load(text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (src, ann) = line.split_once('\t').ok_or(format!("line {n}: no TAB between case and annotation"))?;
        let mut words = ann.split_whitespace();
        let tag = words.next().and_then(|w| w.strip_prefix('#')).ok_or(format!("line {n}: no #tag"))?.to_owned();
        let expect = match words.next() {
            Some("expect=ok") => Expect::Ok,
            Some("expect=err") => Expect::Err,
            Some("expect=any") => Expect::Any,
            other => return Err(format!("line {n}: bad expect {other:?}")),
        };
        let col = match words.next().and_then(|w| w.strip_prefix("col=")) {
            Some("end") => Some(Col::End),
            Some(c) => Some(Col::At(c.parse().map_err(|e| format!("line {n}: {e}"))?)),
            None => None,
        };
        let input = if let Some(spec) = src.strip_prefix("GEN ") {
            Input::Bytes(generate(spec).map_err(|e| format!("line {n}: {e}"))?)
        } else if let Some(json) = src.strip_prefix("ARGS ") {
            Input::Args(serde_json::from_str(json).map_err(|e| format!("line {n}: {e}"))?)
        } else {
            Input::Bytes(unescape(src).map_err(|e| format!("line {n}: {e}"))?)
        };
        if cases.iter().any(|c| c.tag == tag) {
            return Err(format!("line {n}: duplicate tag {tag}"));
        }
        cases.push(Case { line: n, tag, expect, col, input });
    }
    Ok(cases)
}

/// Every subcommand, with the options it needs before the input.
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("parse", &[]),
    ("diff", &["--wrt", "x"]),
    ("grad", &["--wrt", "x"]),
    ("eval", &["--at", "x=0.5"]),
    ("latex", &[]),
    ("simplify", &[]),
    ("note", &[]),
    ("jacobian", &["--wrt", "x"]),
    ("hessian", &["--wrt", "x"]),
];

#[cfg(unix)]
fn os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_owned()
}

#[cfg(not(unix))]
fn os(bytes: &[u8]) -> OsString {
    String::from_utf8_lossy(bytes).into_owned().into()
}

/// How the documented echo shows one character: a tab as four spaces, a carriage
/// return not at all, control characters as `\xHH`, invisible and direction-changing
/// ones as `\u{HHHH}`, anything else as itself. The width in terminal columns of
/// what is shown (one per scalar).
fn echo_width(c: char) -> usize {
    match c {
        '\t' => 4,
        '\r' => 0,
        c if c.is_control() => 4,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00A0}' => {
            format!("\\u{{{:04X}}}", c as u32).len()
        }
        _ => 1,
    }
}

/// Whether `c` may not appear raw on a terminal: controls other than the newline, and
/// the invisible and direction-changing characters.
fn unsafe_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks an expected error's rendering: the locator names the column, the input line
/// is echoed, and the caret stands under that column. Returns a complaint.
fn check_caret(stderr: &str, input: &[u8], col: Col) -> Option<String> {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<&str> = stderr.lines().collect();
    let Some(loc) = lines.iter().position(|l| l.trim_start().starts_with("--> line ")) else {
        return Some("no `--> line L, column C` locator".into());
    };
    let (line_no, column) = lines[loc]
        .trim_start()
        .trim_start_matches("--> line ")
        .split_once(", column ")
        .and_then(|(l, c)| Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?)))?;
    let src_line = text.split('\n').nth(line_no - 1).unwrap_or("");
    let want = match col {
        Col::At(c) => c,
        Col::End => src_line.chars().filter(|&c| c != '\r').count() + 1,
    };
    if column != want {
        return Some(format!("caret at column {column}, expected {want}"));
    }
    let echo_prefix = format!("{line_no} | ");
    let Some(echo) = lines.iter().position(|l| l.starts_with(&echo_prefix)) else {
        return Some("the input line is not echoed".into());
    };
    let caret_line = lines.get(echo + 1).copied().unwrap_or("");
    let Some(bar) = caret_line.find("| ") else {
        return Some("no caret line under the echo".into());
    };
    let caret_at = caret_line[bar + 2..].chars().position(|c| c == '^');
    let expected_at: usize = src_line.chars().take(want - 1).map(echo_width).sum();
    if caret_at != Some(expected_at) {
        return Some(format!("caret drawn at {caret_at:?}, the echo puts column {want} at {expected_at}"));
    }
    None
}

#[test]
fn every_subcommand_survives_the_shared_corpus() {
    // A copy of ../shared/bad-inputs/bad-inputs.txt, kept in the repository so that a
    // fresh clone tests it (.ci/run checks the copy against the original).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-inputs.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = load(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(cases.len() >= 100, "only {} cases in {}", cases.len(), path.display());
    let mut plans: Vec<(&Case, String, Vec<OsString>, Vec<u8>)> = Vec::new();
    for case in &cases {
        match &case.input {
            Input::Args(args) => {
                plans.push((case, "as given".into(), args.iter().map(OsString::from).collect(), Vec::new()))
            }
            Input::Bytes(bytes) => {
                let argv_ok = !bytes.contains(&0) && bytes.len() < 100_000;
                for (sub, opts) in SUBCOMMANDS {
                    let mut args: Vec<OsString> =
                        std::iter::once(*sub).chain(opts.iter().copied()).map(Into::into).collect();
                    if argv_ok && *sub != "note" {
                        args.push("--".into());
                        args.push(os(bytes));
                        plans.push((case, format!("{sub} (argv)"), args, Vec::new()));
                    } else {
                        args.push("-".into());
                        plans.push((case, format!("{sub} (stdin)"), args, bytes.clone()));
                    }
                }
            }
        }
    }
    let outcomes = binary::parallel(&plans, |(_, _, args, stdin)| binary::run(args, stdin, CPU_LIMIT));
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    // Whether the case's `parse` run (the first of its runs) succeeded.
    let mut parse_ok = false;
    for ((case, how, _, _), o) in plans.iter().zip(&outcomes) {
        let who = format!("line {} #{} {how}", case.line, case.tag);
        if how.starts_with("parse") {
            parse_ok = false;
        }
        if o.cpu > slowest.0 {
            slowest = (o.cpu, who.clone());
        }
        let mut fail = |why: String| failures.push(format!("{who}: {why}\n    stderr: {}", o.stderr.trim_end()));
        if o.killed {
            fail(format!("killed after {:?} of processor time", o.cpu));
            continue;
        }
        let Some(code) = o.code else {
            fail("ended by a signal".into());
            continue;
        };
        if how.starts_with("parse") {
            parse_ok = code == 0;
        }
        if code != 0 && code != 2 {
            fail(format!("exit code {code}"));
            continue;
        }
        if let Some(c) = o.stderr.chars().find(|&c| unsafe_on_terminal(c)) {
            fail(format!("raw U+{:04X} on stderr", c as u32));
        }
        if code == 2 {
            if !o.stdout.is_empty() {
                fail(format!("{} bytes on stdout with the error", o.stdout.len()));
            }
            if !o.stderr.starts_with("error: ") || o.stderr.lines().filter(|l| l.starts_with("error")).count() != 1 {
                fail("stderr is not one `error: ...` message".into());
            }
        }
        match case.expect {
            // Evaluation may fail on an accepted input (a free variable, a value out
            // of range): that is an error about the value, not the input.
            Expect::Ok if code == 2 && how.starts_with("eval") && parse_ok => {}
            Expect::Ok if code != 0 => fail(format!("expected success, got exit {code}")),
            Expect::Err if code != 2 => fail(format!("expected an error (exit 2), got exit {code}")),
            Expect::Err => {
                if let (Some(col), Input::Bytes(bytes)) = (case.col, &case.input) {
                    if let Some(why) = check_caret(&o.stderr, bytes, col) {
                        fail(why);
                    }
                }
            }
            _ => {}
        }
    }
    let runs = plans.len();
    eprintln!(
        "{} cases, {runs} runs; slowest {:.2} s of processor time ({})",
        cases.len(),
        slowest.0.as_secs_f64(),
        slowest.1
    );
    assert!(failures.is_empty(), "{} of {runs} runs failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_decoder_reads_the_format() {
    assert_eq!(unescape(r"x\0+\x ").ok(), None);
    assert_eq!(unescape(r"a\tb\u{3C3}\xff\\").unwrap(), b"a\tb\xcf\x83\xff\\".to_vec());
    assert_eq!(generate(r#"nest "(" 3 "x" ")""#).unwrap(), b"(((x)))".to_vec());
    assert_eq!(generate(r#"join "+" 3 "x{i}""#).unwrap(), b"x1+x2+x3".to_vec());
    assert_eq!(generate(r#"seq "x^" 2 "x" 1"#).unwrap(), b"x^x^x".to_vec());
    assert_eq!(generate(r#"str " \t""#).unwrap(), b" \t".to_vec());
    let cases = load("(x\t#t1 expect=err col=end note\nARGS [\"diff\"]\t#t2 expect=ok\n").unwrap();
    assert_eq!((cases[0].expect, cases[0].col), (Expect::Err, Some(Col::End)));
    assert!(matches!(&cases[1].input, Input::Args(a) if a == &["diff"]));
    assert!(load("x\t#dup expect=ok\ny\t#dup expect=ok\n").is_err());
}
