//! A sigmoid layer's forward and backward pass, generated as Rust, C, Python and NumPy.
//!
//! Run with `cargo run --example codegen`.

use deriv::codegen::{self, Lang};

fn main() -> Result<(), deriv::Error> {
    let sigmoid = codegen::kernel("p = e^z/(1+e^z)", &["z"], "sigmoid")?;
    // The backward pass takes the saved output y: grad*y*(1 - y).
    assert_eq!(sigmoid.partials[0].to_string(), "y*(1 - y)");
    println!("{}", codegen::rust(&sigmoid));
    // Several inputs: one gradient function, intermediates shared.
    let softmax = codegen::kernel("p1 = e^z1/(e^z1 + e^z2 + e^z3)", &["z1", "z2", "z3"], "softmax1")?;
    for lang in Lang::ALL {
        println!("--- {}\n{}", lang.name(), codegen::generate(&softmax, lang));
    }
    Ok(())
}
