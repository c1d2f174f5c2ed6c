//! Every plugin sluice knows, in one place: one line per plugin, found by its Logstash name.
//!
//! To add a plugin, write its file (`src/filters/NAME.rs` with a `build` function) and add a
//! line here.

use std::sync::Arc;

use crate::codecs::{self, Codec};
use crate::config::{Diagnostics, PluginArgs};
use crate::filters::{self, Filter};
use crate::inputs::{self, Input};
use crate::outputs::{self, Output};

type BuildInput = fn(&PluginArgs, Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics>;
type BuildFilter = fn(&PluginArgs) -> Result<Box<dyn Filter>, Diagnostics>;
type BuildOutput = fn(&PluginArgs, Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics>;
type BuildCodec = fn(&PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics>;

pub struct InputSpec {
    pub name: &'static str,
    /// The codec used when the config names none (Logstash's default for this input).
    pub default_codec: &'static str,
    pub build: BuildInput,
}

pub struct FilterSpec {
    pub name: &'static str,
    pub build: BuildFilter,
}

pub struct OutputSpec {
    pub name: &'static str,
    pub default_codec: &'static str,
    pub build: BuildOutput,
}

pub struct CodecSpec {
    pub name: &'static str,
    pub build: BuildCodec,
}

pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        name: "dead_letter_queue",
        default_codec: "plain",
        build: inputs::dead_letter_queue::build,
    },
    InputSpec {
        name: "docker_logs",
        default_codec: "plain",
        build: inputs::docker_logs::build,
    },
    InputSpec {
        name: "file",
        default_codec: "plain",
        build: inputs::file::build,
    },
    InputSpec {
        name: "flume",
        default_codec: "plain",
        build: inputs::flume::build,
    },
    InputSpec {
        name: "forward",
        default_codec: "plain",
        build: inputs::forward::build,
    },
    InputSpec {
        name: "generator",
        default_codec: "plain",
        build: inputs::generator::build,
    },
    InputSpec {
        name: "kafka",
        default_codec: "plain",
        build: inputs::kafka::build,
    },
    InputSpec {
        name: "mesos_sandbox",
        default_codec: "plain",
        build: inputs::mesos_sandbox::build,
    },
    InputSpec {
        name: "relp",
        default_codec: "plain",
        build: inputs::relp::build,
    },
    InputSpec {
        name: "stdin",
        default_codec: "line",
        build: inputs::stdin::build,
    },
    InputSpec {
        name: "syslog",
        default_codec: "plain",
        build: inputs::syslog::build,
    },
    InputSpec {
        name: "tcp",
        default_codec: "line",
        build: inputs::tcp::build,
    },
    InputSpec {
        name: "udp",
        default_codec: "plain",
        build: inputs::udp::build,
    },
];

pub const FILTERS: &[FilterSpec] = &[
    FilterSpec {
        name: "clone",
        build: filters::clone::build,
    },
    FilterSpec {
        name: "date",
        build: filters::date::build,
    },
    FilterSpec {
        name: "dissect",
        build: filters::dissect::build,
    },
    FilterSpec {
        name: "drop",
        build: filters::drop::build,
    },
    FilterSpec {
        name: "fingerprint",
        build: filters::fingerprint::build,
    },
    FilterSpec {
        name: "geoip",
        build: filters::geoip::build,
    },
    FilterSpec {
        name: "grok",
        build: filters::grok::build,
    },
    FilterSpec {
        name: "json",
        build: filters::json::build,
    },
    FilterSpec {
        name: "kv",
        build: filters::kv::build,
    },
    FilterSpec {
        name: "mutate",
        build: filters::mutate::build,
    },
    FilterSpec {
        name: "prune",
        build: filters::prune::build,
    },
    FilterSpec {
        name: "split",
        build: filters::split::build,
    },
    FilterSpec {
        name: "syslog_pri",
        build: filters::syslog_pri::build,
    },
    FilterSpec {
        name: "translate",
        build: filters::translate::build,
    },
    FilterSpec {
        name: "truncate",
        build: filters::truncate::build,
    },
    FilterSpec {
        name: "urldecode",
        build: filters::urldecode::build,
    },
    FilterSpec {
        name: "useragent",
        build: filters::useragent::build,
    },
];

pub const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "elasticsearch",
        default_codec: "plain",
        build: outputs::elasticsearch::build,
    },
    OutputSpec {
        name: "file",
        default_codec: "json_lines",
        build: outputs::file::build,
    },
    OutputSpec {
        name: "kafka",
        default_codec: "plain",
        build: outputs::kafka::build,
    },
    OutputSpec {
        name: "null",
        default_codec: "plain",
        build: outputs::null::build,
    },
    OutputSpec {
        name: "stdout",
        default_codec: "rubydebug",
        build: outputs::stdout::build,
    },
];

pub const CODECS: &[CodecSpec] = &[
    CodecSpec {
        name: "flume",
        build: codecs::flume::build,
    },
    CodecSpec {
        name: "json",
        build: codecs::json::build,
    },
    CodecSpec {
        name: "json_lines",
        build: codecs::json_lines::build,
    },
    CodecSpec {
        name: "line",
        build: codecs::line::build,
    },
    CodecSpec {
        name: "multiline",
        build: codecs::multiline::build,
    },
    CodecSpec {
        name: "plain",
        build: codecs::plain::build,
    },
    CodecSpec {
        name: "rubydebug",
        build: codecs::rubydebug::build,
    },
];

pub fn input(name: &str) -> Option<&'static InputSpec> {
    INPUTS.iter().find(|s| s.name == name)
}

pub fn filter(name: &str) -> Option<&'static FilterSpec> {
    FILTERS.iter().find(|s| s.name == name)
}

pub fn output(name: &str) -> Option<&'static OutputSpec> {
    OUTPUTS.iter().find(|s| s.name == name)
}

pub fn codec(name: &str) -> Option<&'static CodecSpec> {
    CODECS.iter().find(|s| s.name == name)
}
