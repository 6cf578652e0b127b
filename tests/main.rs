//! Test entry.
