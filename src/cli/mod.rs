//! The `sluice` command line.

pub fn main() -> std::process::ExitCode {
    todo!("cli.rs")
}
