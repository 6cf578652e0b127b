//! The sigmoid, differentiated and checked: the library's front-page example.
//!
//! Run with `cargo run --example sigmoid`.

fn main() -> Result<(), deriv::Error> {
    // Given what the forward pass computes, p, the derivative comes out in terms of p:
    let dp = deriv::derivative("p = e^z/(1+e^z)", "z")?;
    assert_eq!(dp.to_string(), "p*(1 - p)");

    // The plain derivative of the expression, and an independent witness for it:
    // forward-mode dual numbers on the function itself, at random points.
    let (p, z): (deriv::Expr, _) = ("e^z/(1+e^z)".parse()?, deriv::Sym::new("z"));
    let raw = deriv::diff(&p, &z);
    let report = deriv::check(&p, &raw, &z)?;
    assert!(report.max_error < 1e-12);

    println!("d/dz p = {dp}");
    println!("LaTeX: {}", deriv::print::latex::to_latex(&dp));
    println!("d/dz {p} = {raw}, checked at {} points", report.points);
    Ok(())
}
