//! The dead letter queue (being written).
