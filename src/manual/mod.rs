//! Long-form documentation: chapters that explain choices rather than APIs.

pub mod defaults;
