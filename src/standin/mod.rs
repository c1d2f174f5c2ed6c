//! Stand-ins for servers sluice talks to but that cannot be installed on build machines.
//! (Being written: see `elasticsearch`.)

pub mod elasticsearch;
