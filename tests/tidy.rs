//! House rules checked on the source tree: every module opens with a `//!` paragraph
//! saying its job, and no test is marked to expect a panic or to be skipped.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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

/// The corpora the tests read are copies of the shared ones, kept in the repository so
/// that a fresh clone runs them: where the originals are beside the checkout (as in CI),
/// the copies must be current.
#[test]
fn vendored_corpora_match_the_shared_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (copy, original) in [
        ("tests/data/reference-corpus.json", "../shared/reference/corpus.json"),
        ("tests/data/bad-inputs.txt", "../shared/bad-inputs/bad-inputs.txt"),
    ] {
        let mine = std::fs::read(root.join(copy)).unwrap_or_else(|e| panic!("{copy}: {e}"));
        match std::fs::read(root.join(original)) {
            Ok(theirs) => assert!(mine == theirs, "{copy} differs from {original}: copy it again"),
            Err(_) => {
                crate::support::skip(&format!("{original} is not beside the checkout, so {copy} was not compared"))
            }
        }
    }
}
