//! rand 0.4's API over rand 0.8.
//!
//! The HumanEvalPack Rust tests were written against `rand = "0.4"` (the reference harness pins it):
//! `rng.gen_range(low, high)` takes two arguments there. Debian ships rand 0.8, whose `gen_range`
//! takes a range. This crate is named `rand` and re-exports rand 0.8, except that its `Rng` trait
//! keeps the 0.4 signatures that the dataset uses.
pub use rand08::{random, rngs, thread_rng, CryptoRng, Error, RngCore, SeedableRng};
pub use rand08::{distributions, seq};

use rand08::distributions::uniform::SampleUniform;
use rand08::distributions::{Distribution, Standard};

/// The rand 0.4 `Rng` surface used by HumanEvalPack: `gen`, `gen_range(low, high)`, `gen_bool`.
pub trait Rng: RngCore {
    /// A random value of type `T`.
    fn gen<T>(&mut self) -> T
    where
        Standard: Distribution<T>,
    {
        rand08::Rng::gen(self)
    }

    /// A value in `[low, high)`; panics when `low >= high`, as in rand 0.4.
    fn gen_range<T: SampleUniform + PartialOrd>(&mut self, low: T, high: T) -> T {
        assert!(low < high, "Rng::gen_range called with low >= high");
        rand08::Rng::gen_range(self, low..high)
    }

    /// `true` with probability `p`.
    fn gen_bool(&mut self, p: f64) -> bool {
        rand08::Rng::gen_bool(self, p)
    }
}

impl<R: RngCore + ?Sized> Rng for R {}
