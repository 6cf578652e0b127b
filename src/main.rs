//! The `deriv` command: a thin shell around [`deriv::cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let stdin = std::io::stdin();
    ExitCode::from(deriv::cli::run(&args, &mut stdin.lock(), &mut std::io::stdout(), &mut std::io::stderr()))
}
