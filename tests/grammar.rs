//! The grammar is a contract: every example in grammar/valid.txt parses, every line of
//! grammar/invalid.txt is rejected at the column it names, and every production of
//! grammar/deriv.ebnf is a function of the parser.

use std::path::Path;

fn lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar").join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn valid_examples_parse_and_print_back() {
    let valid = lines("valid.txt");
    assert!(valid.len() > 20);
    for line in valid {
        let problem = deriv::defs::Problem::load(&[], &line).unwrap_or_else(|e| panic!("{line}\n{e}"));
        let text = problem.target.to_string();
        let again = deriv::parse(&text).unwrap_or_else(|e| panic!("{line} printed as {text}\n{e}"));
        assert_eq!(again, problem.target, "{line} printed as {text}");
    }
}

#[test]
fn invalid_examples_fail_at_their_column() {
    let invalid = lines("invalid.txt");
    assert!(invalid.len() > 20);
    let mut report = String::new();
    for line in invalid {
        let (input, col) = line.rsplit_once('\t').unwrap();
        let err = match deriv::defs::Problem::load(&[], input) {
            Ok(p) => panic!("{input:?} parsed as {}", p.target),
            Err(e) => e,
        };
        let want = if col == "end" { input.chars().count() + 1 } else { col.parse().unwrap() };
        assert_eq!(err.column(), Some(want), "{input:?}: {err}");
        report.push_str(&format!("{err}\n\n"));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn every_production_is_a_parser_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ebnf = std::fs::read_to_string(root.join("grammar/deriv.ebnf")).unwrap();
    let parser = std::fs::read_to_string(root.join("src/parse.rs")).unwrap();
    let productions = ebnf.split("---- Productions").nth(1).unwrap().split("(* ----").next().unwrap();
    let names: Vec<&str> = productions
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(n, _)| n.trim()))
        .filter(|n| !n.is_empty() && !n.contains(' '))
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    for n in names {
        let is_fn = parser.contains(&format!("fn {n}(")) || parser.contains(&format!("fn {n}<"));
        let is_doc = parser.contains(&format!("// ---- {n} ="));
        assert!(is_fn && is_doc, "production `{n}` has no `fn {n}` with a `// ---- {n} =` comment in src/parse.rs");
    }
}
