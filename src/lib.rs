//! Examples, behaviour tests and benchmarks for livenstore. Not published.
//!
//! The README is included here so its code blocks run as doctests.
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]
