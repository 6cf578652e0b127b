//! Notes: examples/activations.md (and its figures, activations-N.svg) is what
//! `deriv note examples/activations.deriv -o examples/activations.md` writes, a `plot`
//! line is a figure in every format, examples/softmax.{md,tex,html} what `deriv note examples/softmax.deriv`
//! prints in each format, and each note format holds together; every example's LaTeX
//! compiles with pdflatex without an overfull line (skipped without pdflatex).

use std::path::Path;
use std::process::Command;

#[test]
fn the_activations_note_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("deriv-activations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("activations.md");
    let r = crate::support::run(&[
        "note",
        root.join("examples/activations.deriv").to_str().unwrap(),
        "-o",
        md.to_str().unwrap(),
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let stale = "is stale: regenerate the note and its figures with\n  \
                 cargo run -- note examples/activations.deriv -o examples/activations.md";
    let kept = std::fs::read_to_string(root.join("examples/activations.md")).unwrap();
    assert!(std::fs::read_to_string(&md).unwrap() == kept, "examples/activations.md {stale}");
    for want in ["p \\left(1 - p\\right)", "1 - t^{2}", "-q_{1} q_{2}", "\\alpha + \\mathit{elu}"] {
        assert!(kept.contains(want), "the note lacks {want}");
    }
    // Its figures: one per plot line, named in the document, each as written beside it.
    let names: Vec<String> = kept
        .lines()
        .filter_map(|l| {
            l.strip_prefix("![").and_then(|l| l.split_once("](")).map(|(_, n)| n.trim_end_matches(')').to_owned())
        })
        .collect();
    assert_eq!(names, ["activations-1.svg", "activations-2.svg", "activations-3.svg", "activations-4.svg"]);
    for name in &names {
        let made = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(made.starts_with("<svg"), "{name}");
        assert!(
            std::fs::read_to_string(root.join("examples").join(name)).ok() == Some(made),
            "examples/{name} {stale}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plot_lines_are_figures_in_every_format() {
    let src = "# The sigmoid\np = e^z/(1+e^z)\nplot p, d/dz p, d^2/dz^2 p for z in -6..6\nplot relu(u), d/du relu(u)\n";
    // HTML: the SVG inline, one polyline per piece of each curve in its colour.
    let r = crate::support::run_with_stdin(&["note", "-", "--format", "html", "--katex", "katex"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.matches("<figure class=\"plot\">\n<svg").count(), 2);
    let first = &r.stdout[r.stdout.find("<svg").unwrap()..r.stdout.find("</svg>").unwrap() + 6];
    for (i, label) in ["p = e^z/(1 + e^z)", "d/dz p = p*(1 - p)", "d²/dz² p = p*(1 - 2*p)*(1 - p)"].iter().enumerate()
    {
        assert!(first.contains(&format!(">\n{label}\n</text>")), "{label} in\n{first}");
        assert_eq!(first.matches(&format!("stroke=\"{}\"", deriv::plot::colour(i))).count(), 1, "{label}");
    }
    // ReLU's derivative is drawn in two pieces, either side of its jump.
    let second = &r.stdout[r.stdout.rfind("<svg").unwrap()..];
    assert_eq!(
        second.matches(&format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"{}\"", deriv::plot::colour(1))).count(),
        2
    );
    // LaTeX: pgfplots, loaded only by a note that plots; one \addplot per curve.
    let r = crate::support::run_with_stdin(&["note", "-", "--format", "latex"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\\usepackage{pgfplots}"));
    assert_eq!(r.stdout.matches("\\addplot[color=").count(), 5);
    assert!(r.stdout.contains("\\addlegendentry{$\\frac{d}{d z} p = p \\left(1 - p\\right)$}"), "{}", r.stdout);
    let r = crate::support::run_with_stdin(&["note", "-", "--format", "latex"], b"p = e^z\ndiff p wrt z\n");
    assert!(!r.stdout.contains("pgfplots"));
    // Markdown: image files beside the document, and none from stdin without -o.
    let r = crate::support::run_with_stdin(&["note", "-"], src.as_bytes());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("writes its figures beside it") && r.stderr.contains("-o"), "{}", r.stderr);
    let dir = std::env::temp_dir().join(format!("deriv-note-plots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("sigmoid.md");
    let r = crate::support::run_with_stdin(&["note", "-", "-o", md.to_str().unwrap()], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = std::fs::read_to_string(&md).unwrap();
    assert!(doc.contains("](sigmoid-1.svg)") && doc.contains("](sigmoid-2.svg)"), "{doc}");
    for n in 1..=2 {
        let svg = std::fs::read_to_string(dir.join(format!("sigmoid-{n}.svg"))).unwrap();
        assert!(roxmltree::Document::parse(&svg).is_ok());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_plot_lines_are_errors_on_their_line() {
    for (src, want) in [
        ("p = e^z\nplot p for z in 6..-6\n", "is not a range"),
        ("p = e^z\nplot p for z\n", "plot F, d/dz F"),
        ("p = e^z\nplot p, d/dx p for z in -1..1\n", "plot F, d/dz F"),
        ("p = e^z\nplot p +\n", "line 2"),
        ("p = e^z\nplot x*y\n", "free variables"),
    ] {
        let r = crate::support::run_with_stdin(&["note", "-", "--format", "html"], src.as_bytes());
        assert_eq!(r.code, 2, "{src}");
        assert!(r.stderr.contains(want) && r.stderr.contains("line 2"), "{src}: {}", r.stderr);
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

#[test]
fn the_softmax_note_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("examples/softmax.deriv");
    for (format, ext) in [("markdown", "md"), ("latex", "tex"), ("html", "html")] {
        let r = crate::support::run(&["note", src.to_str().unwrap(), "--format", format]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let kept = std::fs::read_to_string(root.join(format!("examples/softmax.{ext}"))).unwrap();
        assert!(
            r.stdout == kept,
            "examples/softmax.{ext} is stale: regenerate it with\n  \
             cargo run -- note examples/softmax.deriv --format {format} > examples/softmax.{ext}"
        );
    }
    let kept = std::fs::read_to_string(root.join("examples/softmax.md")).unwrap();
    for want in [
        "&= p_{i} \\left(\\delta_{ij} - p_{j}\\right)",
        "&= p_{2} \\left(1 - p_{2}\\right)",
        "\\text{assume}\\quad \\sum_{k} t_{k} = 1",
        "&= p_{j} - t_{j}",
        "&= g'(z_{k}) \\, x_{j} \\left(g(z_{k}) - t_{k}\\right)",
    ] {
        assert!(kept.contains(want), "the note lacks {want}");
    }
}

#[test]
fn notes_take_indexed_requests_facts_and_specialisations() {
    let src = "p[i] = e^z[i]/sum(k, e^z[k])\ndiff p[1] wrt z[2] where K = 3, z[3] = 0\n\
               z[k] = sum(j, x[j]*w[j,k])\nE = 1/2*sum(k, (g(z[k]) - t[k])^2)\ngrad E wrt w[j,k], x[j]\n";
    let r = crate::support::run_with_stdin(&["note", "-"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("&= -p_{1} p_{2}") || r.stdout.contains("= -p_{1} p_{2}"), "{}", r.stdout);
    assert!(r.stdout.contains("\\frac{\\partial E}{\\partial w_{j,k}} &= g'(z_{k})"), "{}", r.stdout);
    assert!(r.stdout.contains("\\frac{\\partial E}{\\partial x_{j}} &= \\sum_{k}"), "{}", r.stdout);
    // A fact that does not read, and a specialisation that leaves an index free, point at
    // their lines.
    let r = crate::support::run_with_stdin(&["note", "-"], b"p = x\nassume t +\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    let r = crate::support::run_with_stdin(
        &["note", "-"],
        b"p[i] = e^z[i]/sum(k, e^z[k])\ndiff p[i] wrt z[2] where K = 2, z[1] = 0\n",
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("line 2") && r.stderr.contains("p[i]"), "{}", r.stderr);
}

#[test]
fn diff_at_specialises_any_size_and_values() {
    let softmax = "p[i] = e^z[i]/sum(k, e^z[k]); p[2]";
    for (size, at) in [("K=2", "z[1]=0"), ("K=3", "z[1]=0,z[3]=1"), ("K=2", "z[1]=a")] {
        let r = crate::support::run(&["diff", softmax, "--wrt", "z[2]", "--size", size, "--at", at, "--check"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "p[2]*(1 - p[2])\n"), "{size} {at}: {}", r.stderr);
    }
    let r = crate::support::run(&["diff", softmax, "--wrt", "z[2]", "--size", "K=2", "--at", "z[1]=0", "--steps"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("d/dz[2] p[2]") && r.stdout.contains("substitute e^z[2] = p[2]/(1 - p[2])"),
        "{}",
        r.stdout
    );
    let r = crate::support::run(&["diff", softmax, "--wrt", "z[2]", "--size", "K=2", "--at", "z[2]=0"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
}

#[test]
fn long_lines_break_at_plus_and_minus() {
    use deriv::print::latex::{break_lines, width};
    let long = (1..=30).map(|i| format!("\\frac{{x_{{{i}}}}}{{2}}")).collect::<Vec<_>>().join(" + ");
    let lines = break_lines(&long, 40.0);
    assert!(lines.len() > 1 && lines.iter().all(|l| width(l) <= 40.0), "{lines:?}");
    assert!(lines[1..].iter().all(|l| l.starts_with("+ ")), "{lines:?}");
    let inside = format!("\\frac{{1}}{{2}} \\left({long}\\right)");
    let lines = break_lines(&inside, 40.0);
    assert!(lines.len() > 1 && lines[0].ends_with("\\right.") && lines[1].starts_with("\\left. + "), "{lines:?}");
}

/// Every example note as a LaTeX document compiles with pdflatex, and no line runs off
/// the page (`Overfull \hbox` in the log). CI installs pdflatex (`.ci/run`).
#[test]
fn example_notes_compile_with_pdflatex_within_the_margins() {
    if !Command::new("pdflatex").arg("--version").output().is_ok_and(|o| o.status.success()) {
        crate::support::skip("pdflatex not found: LaTeX notes not compiled");
        return;
    }
    // The plots of notes are pgfplots (Debian: texlive-pictures).
    if !Command::new("kpsewhich").arg("pgfplots.sty").output().is_ok_and(|o| o.status.success()) {
        crate::support::skip("pgfplots not found: LaTeX notes not compiled");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("deriv-notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut notes: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deriv"))
        .collect();
    notes.sort();
    assert!(notes.len() >= 2);
    for note in notes {
        let stem = note.file_stem().unwrap().to_str().unwrap().to_owned();
        let r = crate::support::run(&["note", note.to_str().unwrap(), "--format", "latex"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::write(dir.join(format!("{stem}.tex")), &r.stdout).unwrap();
        let out = Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", &format!("{stem}.tex")])
            .current_dir(&dir)
            .output()
            .unwrap();
        let log = std::fs::read_to_string(dir.join(format!("{stem}.log"))).unwrap_or_default();
        assert!(out.status.success(), "{stem}: pdflatex failed:\n{}", String::from_utf8_lossy(&out.stdout));
        let overfull: Vec<&str> = log.lines().filter(|l| l.starts_with("Overfull \\hbox")).collect();
        assert!(overfull.is_empty(), "{stem}: lines run off the page:\n{}", overfull.join("\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
