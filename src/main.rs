//! The `deriv` command: a thin shell around [`deriv::cli::run`].

use std::process::ExitCode;

/// Every node of an expression is an allocation, and most live briefly: mimalloc's
/// thread-local free lists serve them faster than the system allocator (the library
/// leaves the choice to its users).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let stdin = std::io::stdin();
    use std::io::IsTerminal;
    let shell = deriv::cli::Shell {
        colour: deriv::cli::colour_on_stderr(),
        terminal: stdin.is_terminal() && std::io::stdout().is_terminal(),
    };
    ExitCode::from(deriv::cli::run_with(
        &args,
        &mut stdin.lock(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        shell,
    ))
}
