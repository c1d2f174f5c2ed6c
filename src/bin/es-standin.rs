//! `es-standin`: the Elasticsearch stand-in as a process, for benchmarks and manual tests.
//!
//! ```text
//! es-standin [--port N] [--version 7|8|X.Y.Z] [--no-product-header] [--count-only]
//!            [--max-content-length BYTES]
//! ```
//! Prints `listening on http://127.0.0.1:PORT` on stdout once it accepts connections, then
//! serves until SIGINT or SIGTERM. Faults are scripted over HTTP under `/_standin/` (see
//! `sluice::standin::elasticsearch`).

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use sluice::standin::elasticsearch::{Config, EsVersion, StandIn};

/// A faithful Elasticsearch stand-in.
#[derive(Parser, Debug)]
#[command(name = "es-standin")]
struct Args {
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Version to imitate: 7, 8 or X.Y.Z.
    #[arg(long, default_value = "8")]
    version: EsVersion,
    /// Pretend not to be Elasticsearch: no X-elastic-product header, no tagline.
    #[arg(long)]
    no_product_header: bool,
    /// Keep only document counts, not sources (for throughput benchmarks).
    #[arg(long)]
    count_only: bool,
    /// http.max_content_length in bytes (default 100 MiB).
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    max_content_length: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config {
        version: args.version,
        product_header: !args.no_product_header,
        max_content_length: args.max_content_length,
        addr: Some(SocketAddr::from(([127, 0, 0, 1], args.port))),
        store_sources: !args.count_only,
    };
    let standin = StandIn::start(config).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", standin.url())?;
    stdout.flush()?;
    wait_for_signal().await?;
    standin.stop().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
