//! The Elasticsearch stand-in as the end-to-end benches run it (`elasticsearch`, `kafka`).
//!
//! - [`EsRuntime`]: a tokio runtime of its own (one worker thread), apart from the benchmark's
//!   threads, that starts [`StandIn`]s in count-only mode (they keep counts, not documents).
//! - [`sources`]: the source lines of a tapped `_bulk` body; [`bulk_items`] counts them cheaply.

use sluice::standin::elasticsearch::{Config, StandIn};
use tokio::runtime::Runtime;

/// The stand-in's runtime, apart from the benchmark's threads.
pub struct EsRuntime {
    rt: Runtime,
}

impl EsRuntime {
    pub fn new() -> EsRuntime {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("the stand-in's runtime");
        EsRuntime { rt }
    }

    /// A fresh stand-in that keeps only counts.
    pub fn start(&self) -> StandIn {
        let config = Config {
            store_sources: false,
            ..Config::default()
        };
        self.rt
            .block_on(StandIn::start(config))
            .expect("start the stand-in")
    }

    pub fn stop(&self, es: StandIn) {
        self.rt.block_on(es.stop());
    }
}

/// The source lines of a bulk body: every second line, after its `index` action.
pub fn sources(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    std::iter::from_fn(move || {
        let action = lines.next()?;
        assert!(
            action.starts_with(b"{\"index\":"),
            "not an index action: {}",
            String::from_utf8_lossy(action)
        );
        Some(lines.next().expect("an index action without its source"))
    })
}

/// The documents in a bulk body of `index` actions (each action and source one line ending in
/// `\n`, as sluice writes them), counted without parsing: half its lines.
pub fn bulk_items(body: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', body).count() as u64 / 2
}
