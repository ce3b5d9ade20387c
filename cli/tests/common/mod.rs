//! Helpers the binary's test files share.

#![allow(dead_code)]

pub mod serve;
