//! Frames: what a stream's frames look like ([`spec`]), how sweeps move
//! ([`sweep`]), and the generator that makes them at tens of millions a
//! second per core ([`generator`]).

mod generator;
pub mod mix;
pub mod spec;
mod sweep;

pub use generator::{mac_to_u128, FrameError, FrameGenerator};
pub use mix::{SizeMix, SIMPLE_IMIX};
pub use spec::{
    FrameSpec, IpHeader, PayloadPattern, SizeRule, SplitMix64, Sweep, SweepCombine, SweepField,
    SweepMode, Vlan,
};

#[cfg(test)]
mod tests;
