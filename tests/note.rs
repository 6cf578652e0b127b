//! Notes: examples/activations.md is what `deriv note examples/activations.deriv`
//! prints, and each note format holds together.

use std::path::Path;

#[test]
fn the_activations_note_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = crate::support::run(&["note", root.join("examples/activations.deriv").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kept = std::fs::read_to_string(root.join("examples/activations.md")).unwrap();
    assert!(
        r.stdout == kept,
        "examples/activations.md is stale: regenerate it with\n  cargo run -- note examples/activations.deriv > examples/activations.md"
    );
    for want in ["p \\left(1 - p\\right)", "1 - t^{2}", "-q_{1} q_{2}", "\\alpha + \\mathit{elu}"] {
        assert!(kept.contains(want), "the note lacks {want}");
    }
}

#[test]
fn latex_and_html_notes() {
    let src = "# The sigmoid\np = e^z/(1+e^z)\ndiff p wrt z\n";
    let r = crate::support::run_with_stdin(&["note", "-", "--format", "latex"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("\\documentclass{article}") && r.stdout.trim_end().ends_with("\\end{document}"));
    insta::assert_snapshot!(r.stdout);
    let r = crate::support::run_with_stdin(&["note", "-", "--format", "html", "--katex", "katex"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("<div class=\"math\">") && r.stdout.contains("katex/katex.min.js"));
}

#[test]
fn bad_note_lines_are_errors_with_a_caret() {
    let r = crate::support::run_with_stdin(&["note", "-"], b"p = e^z\ndiff p z\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("wrt") && r.stderr.contains("line 2"), "{}", r.stderr);
}
