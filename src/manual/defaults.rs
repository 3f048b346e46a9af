//! # Why the defaults are what they are
#![doc = include_str!("defaults.md")]
