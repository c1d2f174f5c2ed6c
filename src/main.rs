//! The `sluice` binary: the command line lives in [`sluice::cli`].

/// Events are built on the input threads and freed on the worker and output threads; glibc's
/// malloc serialises such cross-thread frees on its arena locks, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
