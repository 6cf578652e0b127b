//! The squared-error gradient of one neuron, through a named intermediate `z`.
//!
//! Run with `cargo run --example backprop`.

use deriv::defs::Problem;
use deriv::Sym;

fn main() -> Result<(), deriv::Error> {
    let lets = ["z = x1*w11 + x2*w21".to_owned()];
    let problem = Problem::load(&lets, "E = 1/2*(g(z) - t)^2")?;
    let e = problem.inlined_target();
    for w in ["w11", "w21"] {
        let x = Sym::new(w);
        let d = deriv::diff(&e, &x);
        let report = deriv::check::check_chain(&[e.clone(), d.clone()], &x, 16, 2)?;
        println!("dE/d{w} = {d}    (max error {:.1e})", report.max_error);
    }
    Ok(())
}
