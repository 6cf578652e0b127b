//! Every input the fuzzers found a defect with (`tests/fuzz-crashes/`, minimised with
//! `cargo fuzz tmin`), replayed through both fuzz targets' bodies.

#[test]
fn fuzz_crashes_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-crashes");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        deriv::fuzz::parse(&data);
        deriv::fuzz::roundtrip(&data);
        n += 1;
    }
    assert!(n >= 4, "only {n} fuzz inputs in {}", dir.display());
}
