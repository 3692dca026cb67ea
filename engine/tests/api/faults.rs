//! Seeded random faults for the venue stand-ins' soak runs: which requests and stream messages
//! misbehave is drawn from one seeded generator, so a failing run can be repeated, and every
//! fault injected is counted by kind for the report.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::sync::broadcast;

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

    /// Whether this request is faulted; a fault is counted as `kind`.
    pub fn faults(&self, kind: &str) -> bool {
        let struck = self.strikes();
        if struck {
            self.count(kind);
        }
        struck
    }

    /// The faults injected, by kind, and their total.
    pub fn report(&self) -> (BTreeMap<String, u32>, u32) {
        let injected = self.injected.lock().unwrap().clone();
        let total = injected.values().sum();
        (injected, total)
    }
}

/// Delivers a stand-in's stream message, or, when `chaos` faults it, loses it, sends it twice,
/// delays it 150 ms (so later ones overtake it) or drops the connections (`drop_marker` is the
/// stand-in's signal to close them; the message is lost with them).
pub fn deliver(chaos: Option<&Chaos>, stream: &broadcast::Sender<String>, message: String, drop_marker: &str) {
    let Some(chaos) = chaos.filter(|c| c.strikes()) else {
        let _ = stream.send(message);
        return;
    };
    match chaos.below(4) {
        0 => chaos.count("stream: message lost"),
        1 => {
            chaos.count("stream: message duplicated");
            let _ = stream.send(message.clone());
            let _ = stream.send(message);
        }
        2 => {
            chaos.count("stream: message delayed (reordered)");
            let stream = stream.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                let _ = stream.send(message);
            });
        }
        _ => {
            chaos.count("stream: connection dropped (message lost)");
            let _ = stream.send(drop_marker.to_owned());
        }
    }
}
