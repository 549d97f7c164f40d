//! The durable history: every topic's messages and last id on disk.

mod bounds;

pub use bounds::Bounds;
