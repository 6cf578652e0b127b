//! The sigmoid, differentiated and checked: the library's front-page example.
//!
//! Run with `cargo run --example sigmoid`.

use deriv::check::check_chain;
use deriv::print::latex::to_latex;
use deriv::Sym;

fn main() -> Result<(), deriv::Error> {
    let p = deriv::parse("e^z/(1+e^z)")?;
    let z = Sym::new("z");
    let dp = deriv::diff(&p, &z);
    // An independent witness: forward-mode dual numbers on p itself, at random points.
    let report = check_chain(&[p.clone(), dp.clone()], &z, 16, 1)?;
    assert!(report.max_error < 1e-12);
    println!("d/dz {p} = {dp}");
    println!("LaTeX: {}", to_latex(&dp));
    println!("checked at {} points, max error {:.1e}", report.points, report.max_error);
    Ok(())
}
