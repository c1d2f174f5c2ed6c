//! A faithful Elasticsearch stand-in (being written).
