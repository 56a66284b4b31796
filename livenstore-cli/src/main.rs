//! The `livenstore` binary: see the `livenstore_cli` library for everything it does.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    livenstore_cli::main()
}
