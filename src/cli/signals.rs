//! Stopping on signals: the first SIGINT or SIGTERM asks the pipeline to drain and stop
//! ([`Shutdown::requested`] resolves); a second one exits the process at once.
//!
//! The handlers live on a thread of their own with a one-thread tokio runtime, installed before
//! the config is even loaded, so no signal is missed while the pipeline starts, and the forced
//! exit works however stuck the pipeline's own runtime is (e.g. an output blocked on a full
//! pipe).

use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

/// Exit status after a second signal: the shell's `128 + signal number`.
fn forced_exit_status(signo: i32) -> i32 {
    128 + signo
}

/// A handle on the signal thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

impl Shutdown {
    /// Installs the SIGINT and SIGTERM handlers and starts the signal thread.
    pub fn install() -> std::io::Result<Shutdown> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let mut handlers = runtime.block_on(async { Handlers::new() })?;
        let (tx, requested) = watch::channel(false);
        std::thread::Builder::new()
            .name("sluice-signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let first = handlers.next().await;
                    tracing::warn!("received {first}: stopping inputs and draining; send it again to exit at once");
                    // The receivers outlive no one who cares if the pipeline has already gone.
                    let _ = tx.send(true);
                    let second = handlers.next().await;
                    eprintln!("sluice: second {second}: exiting at once");
                    std::process::exit(forced_exit_status(second.number()));
                })
            })?;
        Ok(Shutdown { requested })
    }

    /// Resolves once the first signal has arrived.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.requested.clone();
        async move {
            // An error means the signal thread is gone, which happens only when the process
            // exits; waiting forever is then the right answer.
            if rx.wait_for(|&requested| requested).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether the first signal has arrived.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }
}

/// Which signal arrived.
#[derive(Clone, Copy, Debug)]
enum Received {
    Interrupt,
    Terminate,
}

impl Received {
    fn number(self) -> i32 {
        match self {
            Received::Interrupt => 2,
            Received::Terminate => 15,
        }
    }
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Received::Interrupt => "SIGINT",
            Received::Terminate => "SIGTERM",
        })
    }
}

struct Handlers {
    interrupt: Signal,
    terminate: Signal,
}

impl Handlers {
    /// Must run inside a tokio runtime: registration needs its signal driver.
    fn new() -> std::io::Result<Handlers> {
        Ok(Handlers {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Received {
        tokio::select! {
            _ = self.interrupt.recv() => Received::Interrupt,
            _ = self.terminate.recv() => Received::Terminate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_exit_follows_the_shell_convention() {
        assert_eq!(forced_exit_status(Received::Interrupt.number()), 130);
        assert_eq!(forced_exit_status(Received::Terminate.number()), 143);
    }
}
