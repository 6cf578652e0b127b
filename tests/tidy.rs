//! House rules checked on the source tree: every module opens with a `//!` paragraph
//! saying its job, no test is marked to expect a panic or to be skipped, the vendored
//! corpora match the shared ones, the modules' uses follow the layers of
//! ARCHITECTURE.md without cycles, and only the CLI does IO.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "snapshots") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_starts_with_a_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples"] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("//!"), "{} does not start with a //! doc comment", f.display());
        let banned = ["#[should_", "panic]", "#[ign", "ore]"];
        for pair in banned.chunks(2) {
            assert!(!text.contains(&pair.concat()), "{} uses {}", f.display(), pair.concat());
        }
    }
}

// ---- layers ---------------------------------------------------------------------------

/// The layers of ARCHITECTURE.md's "Layers" table, lowest first, each as its label and
/// its modules.
fn layers(root: &Path) -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let section = doc.split("\n## Layers\n").nth(1).expect("ARCHITECTURE.md has no `## Layers` section");
    let table = section.split("```text\n").nth(1).and_then(|t| t.split("```").next()).expect("no ```text table");
    let mut out: Vec<(String, Vec<String>)> = table
        .lines()
        .map(|l| {
            let (label, mods) = l.split_once(':').unwrap_or_else(|| panic!("layer line without `label:`: {l}"));
            (label.trim().to_owned(), mods.split_whitespace().map(str::to_owned).collect())
        })
        .collect();
    out.reverse();
    out
}

/// Every module of the crate (a file `src/x.rs` or a directory `src/x/`) with its files;
/// the crate root and the binary are not modules.
fn modules(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            files.push(path);
        }
        if !files.is_empty() {
            out.insert(name, files);
        }
    }
    out
}

/// `text` with comments and the contents of string and character literals blanked out
/// (line breaks kept, so line numbers stay), and every `#[cfg(test)]` item removed.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 1;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"...", r#"..."#, br"...": no escapes; ends at a quote and as many #.
            let open = b[i..].iter().position(|&c| c == b'"').unwrap() + i;
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let end = b[open + 1..].windows(close.len()).position(|w| w == close).map_or(b.len(), |n| open + 1 + n);
            blank(&mut out, open + 1, end);
            i = end + close.len();
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j.min(b.len()));
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{..}', 'σ'); otherwise a lifetime.
            let body_end = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|n| n + 2)
            } else {
                let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + len) == Some(&b'\'')).then_some(1 + len)
            };
            match body_end {
                Some(n) => {
                    blank(&mut out, i + 1, i + n);
                    i += n + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    let mut code = String::from_utf8_lossy(&out).into_owned();
    // Test modules may use any layer: blank each `#[cfg(test)]` item to its closing brace.
    while let Some(at) = code.find("#[cfg(test)]") {
        let open = code[at..].find(['{', ';']).map_or(code.len(), |n| at + n);
        let mut end = open + 1;
        if code.as_bytes().get(open) == Some(&b'{') {
            let mut depth = 0;
            for (k, c) in code[open..].char_indices() {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    end = open + k + 1;
                    break;
                }
            }
        }
        let end = end.min(code.len());
        let blanked: String = code[at..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        code.replace_range(at..end, &blanked);
    }
    code
}

/// Where a raw string literal starts at `i` (`r"`, `r#"`, `br##"`, ...): its number of `#`.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if i > 0 && ident(b[i - 1]) {
        return None;
    }
    let j = i + usize::from(b[i] == b'b');
    if b.get(j) != Some(&b'r') {
        return None;
    }
    let hashes = b[j + 1..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

/// The paths under `root` that `code` names, each without `root::` and with its line:
/// `use crate::a::B` gives `a::B`, `use crate::{a, b::C}` gives `a` and `b::C`,
/// `crate::a::f(...)` gives `a::f`.
fn paths_under(code: &str, root: &str) -> Vec<(String, usize)> {
    let prefix = format!("{root}::");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(&prefix) {
        let before = &code[..code.len() - rest.len() + at];
        let line = before.matches('\n').count() + 1;
        let after = &rest[at + prefix.len()..];
        let preceded_by_ident = before.chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        rest = after;
        if preceded_by_ident {
            continue;
        }
        let paths: Vec<String> = if let Some(group) = after.strip_prefix('{') {
            // The top-level items of the group, up to its closing brace.
            let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
            for c in group.chars() {
                match c {
                    '}' if depth == 0 => break,
                    ',' if depth == 0 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                item.push(c);
            }
            items.push(item);
            items.iter().map(|i| i.split_whitespace().collect()).collect()
        } else {
            vec![after.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect()]
        };
        out.extend(paths.into_iter().filter(|p| !p.is_empty() && p != "self").map(|p| (p, line)));
    }
    out
}

/// The first name of a path: the module, for a `crate::` path.
fn first(path: &str) -> &str {
    path.split("::").next().unwrap_or(path)
}

/// The modules a file's code names through `crate::`, each with its line. A name the
/// crate root re-exports (`crate::Expr`) counts as the module it comes from.
fn crate_paths(code: &str, reexports: &BTreeMap<String, String>) -> Vec<(String, usize)> {
    paths_under(code, "crate")
        .into_iter()
        .map(|(p, line)| (reexports.get(first(&p)).cloned().unwrap_or_else(|| first(&p).to_owned()), line))
        .collect()
}

/// The names the crate root re-exports (`pub use diff::{diff, gradient};`), with the
/// module each comes from.
fn reexports(root: &Path) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(path) = line.strip_prefix("pub use ").and_then(|l| l.strip_suffix(';')) else { continue };
        let (module, items) = path.split_once("::").unwrap_or_else(|| panic!("lib.rs: cannot read `{line}`"));
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let item = item.trim();
            let name = item.rsplit(" as ").next().unwrap().trim();
            out.insert(name.to_owned(), module.to_owned());
        }
    }
    out
}

/// Every `crate::` dependency of every module: `module -> (used module -> first place)`.
fn dependencies(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let reexports = reexports(root);
    let mut deps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, files) in modules(root) {
        let uses = deps.entry(module.clone()).or_default();
        for f in files {
            let code = code_only(&std::fs::read_to_string(&f).unwrap());
            for (used, line) in crate_paths(&code, &reexports) {
                if used != module {
                    let place = format!("{}:{line}", f.strip_prefix(root).unwrap().display());
                    uses.entry(used).or_insert(place);
                }
            }
        }
    }
    deps
}

/// The layers point one way: a module uses only modules of its own layer or the layers
/// below it (ARCHITECTURE.md, "Layers"), every module has a layer, and no modules use
/// each other in a cycle.
#[test]
fn modules_use_only_their_layer_and_the_layers_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layers = layers(root);
    assert!(layers.len() >= 5, "{layers:?}");
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (label, mods)) in layers.iter().enumerate() {
        for m in mods {
            assert!(level.insert(m, i).is_none(), "`{m}` is in two layers (the second is `{label}`)");
        }
    }
    let deps = dependencies(root);
    let mut problems = Vec::new();
    for m in deps.keys() {
        if !level.contains_key(m.as_str()) {
            problems.push(format!("src/{m} has no layer: add it to the table in ARCHITECTURE.md"));
        }
    }
    for m in level.keys() {
        if !deps.contains_key(*m) {
            problems.push(format!("the layer table names `{m}`, which is not a module of src/"));
        }
    }
    for (m, uses) in &deps {
        let Some(&mine) = level.get(m.as_str()) else { continue };
        for (used, place) in uses {
            match level.get(used.as_str()) {
                None if !deps.contains_key(used) => {
                    problems.push(format!("{place}: `crate::{used}` is neither a module nor a re-export"))
                }
                Some(&theirs) if theirs > mine => problems.push(format!(
                    "{place}: `{m}` ({}) uses `{used}` ({}), a higher layer",
                    layers[mine].0, layers[theirs].0
                )),
                _ => {}
            }
        }
    }
    // Cycles: a depth-first search that reports the path back to a module on the stack.
    let edges = |m: &str| -> Vec<&str> { deps.get(m).map_or(Vec::new(), |u| u.keys().map(String::as_str).collect()) };
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in deps.keys() {
        let mut path: Vec<(&str, Vec<&str>)> = vec![(start.as_str(), edges(start))];
        while let Some((m, next)) = path.last_mut() {
            let m = *m;
            match next.pop() {
                Some(d) if path.iter().any(|(p, _)| *p == d) => {
                    let from = path.iter().position(|(p, _)| *p == d).unwrap();
                    let cycle: Vec<&str> = path[from..].iter().map(|(p, _)| *p).chain([d]).collect();
                    let places: Vec<&str> = cycle.windows(2).map(|w| deps[w[0]][w[1]].as_str()).collect();
                    problems.push(format!("cycle {} ({})", cycle.join(" -> "), places.join(", ")));
                }
                Some(d) if !done.contains(d) => path.push((d, edges(d))),
                Some(_) => {}
                None => {
                    done.insert(m);
                    path.pop();
                }
            }
        }
    }
    problems.dedup();
    assert!(problems.is_empty(), "{} layering problems:\n{}", problems.len(), problems.join("\n"));
}

/// The tidy checks' own reader: comments, strings and test modules are not code, and every
/// way of naming a module counts.
#[test]
fn the_dependency_reader_reads_rust() {
    let text = r##"//! crate::a in a doc
use crate::b::{C, D};
use crate::{e::F, g::{self, H}, i};
let s = "crate::j // not a comment"; crate::k::f();
let r = r#"crate::l "# ; let c = '"'; let l: &'static str = x; crate::m(y);
/* crate::n /* nested */ crate::o */ mycrate::p; $crate::q
#[cfg(test)]
mod tests {
    use crate::r;
    fn f() { let _ = '}'; crate::s::t() }
}
crate::u::v;
"##;
    let std_paths = paths_under(&code_only("use std::{io::{self, Write}, fs};\nstd::io::Error::other(e)"), "std");
    let want = [("io::{self,Write}", 1), ("fs", 1), ("io::Error::other", 2)];
    assert_eq!(std_paths, want.map(|(p, l)| (p.to_owned(), l)));
    let reexports = BTreeMap::from([("m".to_owned(), "mm".to_owned())]);
    let found: Vec<(String, usize)> = crate_paths(&code_only(text), &reexports);
    let want = [("b", 2), ("e", 3), ("g", 3), ("i", 3), ("k", 4), ("mm", 5), ("u", 12)];
    assert_eq!(found, want.map(|(m, l)| (m.to_owned(), l)));
}

/// Only the command line does IO (ARCHITECTURE.md, "Invariants"): no other module names
/// the standard library's files, streams, processes or environment, or prints. Naming
/// `std::io::Error`, to hold the failure the command line met, is not IO.
#[test]
fn only_the_cli_does_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for (module, files) in modules(root) {
        if module == "cli" {
            continue;
        }
        for f in files {
            let code = code_only(&std::fs::read_to_string(&f).unwrap());
            let place = |line: usize| format!("{}:{line}", f.strip_prefix(root).unwrap().display());
            for (path, line) in paths_under(&code, "std") {
                // Naming the type of an IO failure (an error kind that holds one) is not IO.
                let io_failure = ["io::Error", "io::ErrorKind"].iter().any(|t| path.starts_with(t));
                if ["io", "fs", "process", "env", "net"].contains(&first(&path)) && !io_failure {
                    found.push(format!("{}: std::{path}", place(line)));
                }
            }
            for (n, text) in code.lines().enumerate() {
                if let Some(m) = ["print!", "println!", "dbg!"].iter().find(|m| text.contains(*m)) {
                    found.push(format!("{}: {m}", place(n + 1)));
                }
            }
        }
    }
    assert!(found.is_empty(), "IO outside src/cli.rs:\n{}", found.join("\n"));
}
