//! The `deriv` command: a thin shell around [`deriv::cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    // Deeply nested input is bounded by the parser's depth limit; a large stack makes
    // sure every recursive stage below that limit has room.
    let worker = std::thread::Builder::new().stack_size(1 << 30).spawn(|| {
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        let stdin = std::io::stdin();
        deriv::cli::run(&args, &mut stdin.lock(), &mut std::io::stdout(), &mut std::io::stderr())
    });
    match worker.map(|w| w.join()) {
        Ok(Ok(code)) => ExitCode::from(code),
        _ => ExitCode::from(1),
    }
}
