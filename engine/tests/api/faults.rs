//! Seeded random faults for the venue stand-ins' soak runs: which requests and stream messages
//! misbehave is drawn from one seeded generator, so a failing run can be repeated, and every
//! fault injected is counted by kind for the report.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use rand::{rngs::StdRng, Rng, SeedableRng};

/// A seeded source of faults at a fixed rate.
pub struct Chaos {
    rng: Mutex<StdRng>,
    rate: f64,
    injected: Mutex<BTreeMap<String, u32>>,
}

impl Chaos {
    /// Faults `rate` (0..1) of the requests and messages it is asked about.
    pub fn new(seed: u64, rate: f64) -> Arc<Self> {
        Arc::new(Self { rng: Mutex::new(StdRng::seed_from_u64(seed)), rate, injected: Mutex::default() })
    }

    /// Whether this request or message is faulted.
    pub fn strikes(&self) -> bool {
        self.rng.lock().unwrap().gen_bool(self.rate)
    }

    /// A number below `n`.
    pub fn below(&self, n: u64) -> u64 {
        self.rng.lock().unwrap().gen_range(0..n)
    }

    /// Counts one injected fault of `kind`.
    pub fn count(&self, kind: &str) {
        *self.injected.lock().unwrap().entry(kind.to_owned()).or_default() += 1;
    }

    /// The faults injected, by kind, and their total.
    pub fn report(&self) -> (BTreeMap<String, u32>, u32) {
        let injected = self.injected.lock().unwrap().clone();
        let total = injected.values().sum();
        (injected, total)
    }
}
