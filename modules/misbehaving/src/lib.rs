//! A module that behaves until bar number `after` (parameter, default 3), then does what `fault`
//! says on every bar: `loop` (spins forever), `trap` (panics, which aborts: a wasm trap),
//! `alloc` (allocates without bound) or `none` (keeps buying one lot per bar). The sandbox's
//! tests use it to show each fault stopped within its limit while the engine keeps serving.

use std::hint::black_box;

use strategy_sdk::{
    export_strategy, Bar, InstrumentId, IntentBuffer, OrderIntent, ParamReader, Qty, Side, Strategy, StrategyBase,
    StrategyConfigError, StrategyContext, StrategyParams,
};

#[derive(Clone, Copy)]
enum Fault {
    None,
    Loop,
    Trap,
    Alloc,
}

/// Counts bars; misbehaves from bar `after` on.
pub struct Misbehaving {
    instrument: InstrumentId,
    quantity: Qty,
    fault: Fault,
    after: usize,
    bars: usize,
    hoard: Vec<Vec<u8>>,
}

impl Misbehaving {
    const NAME: &'static str = "misbehaving";

    /// Parameters `fault` (`loop`, `trap`, `alloc`, `none`) and `after` (bars before it starts).
    ///
    /// # Errors
    /// A [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let after = reader.usize_in("after", Some(3), 0, 1_000_000)?;
        let fault = match reader.text("fault", "none") {
            "none" => Fault::None,
            "loop" => Fault::Loop,
            "trap" => Fault::Trap,
            "alloc" => Fault::Alloc,
            other => return Err(reader.invalid("fault", other, "loop, trap, alloc or none")),
        };
        reader.finish()?;
        Ok(Self { instrument: base.instrument, quantity: base.quantity, fault, after, bars: 0, hoard: Vec::new() })
    }
}

impl Strategy for Misbehaving {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_bar(&mut self, ctx: &StrategyContext, _bar: &Bar, intents: &mut IntentBuffer) {
        self.bars += 1;
        if self.bars <= self.after {
            if ctx.working.is_zero() {
                intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity));
            }
            return;
        }
        match self.fault {
            Fault::None => intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity)),
            Fault::Loop => {
                let mut spins: u64 = 0;
                loop {
                    spins = black_box(spins.wrapping_add(1));
                }
            }
            Fault::Trap => panic!("misbehaving module: deliberate trap on bar {}", self.bars),
            // Reserved, not written: the memory grows as fast as the module can ask for it, so
            // the memory limit is what stops it (zeroing each chunk would use up the fuel first).
            Fault::Alloc => loop {
                let mut chunk: Vec<u8> = Vec::with_capacity(8 << 20);
                chunk.push(black_box(1));
                self.hoard.push(chunk);
            },
        }
    }
}

export_strategy!(Misbehaving::from_params);
