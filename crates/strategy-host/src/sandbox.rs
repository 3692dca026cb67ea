//! One running module instance behind the [`Strategy`] trait.

use domain::strategy::{IntentBuffer, Strategy, StrategyBase, StrategyConfigError, StrategyContext, StrategyParams};
use domain::{Bar, ExternalSignal, Fill, Tick};
use strategy_sdk::abi::{self, RECORD_BYTES, RECORD_WORDS};
use wasmtime::{Instance, Memory, Store, StoreLimits, StoreLimitsBuilder, Trap, TypedFunc};

use crate::module::{engine, StrategyModule};
use crate::module_strategy_name;

/// What one instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Fuel (roughly, wasm instructions) for one event; an event that needs more is stopped.
    pub fuel_per_event: u64,
    /// Fuel for building the strategy from its parameters.
    pub fuel_to_start: u64,
    /// The most linear memory the instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// The most intents one event may return.
    pub max_intents_per_event: usize,
}

impl Default for ModuleLimits {
    /// 10 million fuel per event (an SMA crossover uses about a hundred per bar; the budget stops
    /// an endless loop within a few milliseconds), 50 million to start, 64 MiB, 64 intents.
    fn default() -> Self {
        Self { fuel_per_event: 10_000_000, fuel_to_start: 50_000_000, memory_bytes: 64 << 20, max_intents_per_event: 64 }
    }
}

type Context = (i64, i64, i64);

/// A strategy running in its own wasm instance. After a fault it does nothing and
/// [`Strategy::fault`] says why.
pub struct WasmStrategy {
    store: Store<StoreLimits>,
    memory: Memory,
    intents: TypedFunc<(), i32>,
    on_bar: TypedFunc<(i64, i64, i64, i32, i64, i64, i64, i64, i64, i64), i32>,
    on_tick: TypedFunc<(i64, i64, i64, i32, i64, i64, i64), i32>,
    on_fill: TypedFunc<(i64, i64, i64, i32, i32, i64, i64, i64, i64), i32>,
    on_timer: TypedFunc<(i64, i64, i64), i32>,
    on_signal: TypedFunc<(i64, i64, i64, i32, i32, i64, i64, i64), i32>,
    uses_timer: bool,
    limits: ModuleLimits,
    fault: Option<String>,
}

impl std::fmt::Debug for WasmStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmStrategy").field("limits", &self.limits).field("fault", &self.fault).finish_non_exhaustive()
    }
}

/// Fuel for reading back the intents' address after an event.
const FUEL_TO_COLLECT: u64 = 10_000;

impl WasmStrategy {
    /// Starts an instance of `module` and builds its strategy from `params` and `base`.
    ///
    /// # Errors
    /// [`StrategyConfigError::Rejected`] if the module refuses the parameters (its message) or
    /// fails or runs past its limits while starting.
    pub fn start(
        module: &StrategyModule,
        params: &StrategyParams,
        base: StrategyBase,
        limits: ModuleLimits,
    ) -> Result<Self, StrategyConfigError> {
        let reject = |reason: String| StrategyConfigError::Rejected {
            strategy: module_strategy_name(&module.info().digest),
            reason,
        };
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .memories(1)
            .tables(1)
            .instances(1)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(engine(), store_limits);
        store.limiter(|limits| limits);
        store.set_fuel(limits.fuel_to_start).map_err(|error| reject(format!("{error:#}")))?;
        let failed = |error: wasmtime::Error| reject(describe(&error, &limits, "starting"));
        let instance = Instance::new(&mut store, module.module(), &[]).map_err(failed)?;
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| reject("no memory".to_owned()))?;
        macro_rules! export {
            ($name:literal) => {
                instance.get_typed_func(&mut store, $name).map_err(failed)?
            };
        }
        let buffer: TypedFunc<i32, i32> = export!("halyard_buffer");
        let init: TypedFunc<(i32, i64, i32), i32> = export!("halyard_init");
        let uses_timer: TypedFunc<(), i32> = export!("halyard_uses_timer");
        let text = params.to_string();
        let len = i32::try_from(text.len()).map_err(|_| reject("parameters too long".to_owned()))?;
        let address = buffer.call(&mut store, len).map_err(failed)?;
        memory
            .write(&mut store, address as u32 as usize, text.as_bytes())
            .map_err(|_| reject("the module's parameter buffer is out of bounds".to_owned()))?;
        let instrument = i32::try_from(base.instrument.0).map_err(|_| reject("instrument id too large".to_owned()))?;
        let refused = init.call(&mut store, (instrument, base.quantity.raw(), len)).map_err(failed)?;
        if refused != 0 {
            let address = buffer.call(&mut store, refused).map_err(failed)?;
            let start = address as u32 as usize;
            let message = memory
                .data(&store)
                .get(start..start + refused.max(0) as usize)
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_else(|| "refused its parameters".to_owned());
            return Err(reject(message));
        }
        let uses_timer = uses_timer.call(&mut store, ()).map_err(failed)? != 0;
        Ok(Self {
            intents: export!("halyard_intents"),
            on_bar: export!("halyard_on_bar"),
            on_tick: export!("halyard_on_tick"),
            on_fill: export!("halyard_on_fill"),
            on_timer: export!("halyard_on_timer"),
            on_signal: export!("halyard_on_signal"),
            store,
            memory,
            uses_timer,
            limits,
            fault: None,
        })
    }

    /// Refills the event's fuel; false (and a fault) if the instance is stopped or cannot run.
    #[inline]
    fn ready(&mut self) -> bool {
        if self.fault.is_some() {
            return false;
        }
        if let Err(error) = self.store.set_fuel(self.limits.fuel_per_event) {
            self.fault = Some(format!("could not be given fuel: {error:#}"));
            return false;
        }
        true
    }

    /// Takes the outcome of an event call: the intents it left, or the fault that stopped it.
    #[inline]
    fn finish(&mut self, outcome: wasmtime::Result<i32>, what: &str, intents: &mut IntentBuffer) {
        match outcome {
            Ok(0) => {}
            Ok(count) => {
                if let Err(reason) = self.collect(count, intents) {
                    self.fault = Some(reason);
                }
            }
            Err(error) => self.fault = Some(describe(&error, &self.limits, what)),
        }
    }

    fn collect(&mut self, count: i32, intents: &mut IntentBuffer) -> Result<(), String> {
        let count = usize::try_from(count).map_err(|_| format!("returned a negative intent count ({count})"))?;
        if count > self.limits.max_intents_per_event {
            return Err(format!(
                "returned {count} intents for one event; the limit is {}",
                self.limits.max_intents_per_event
            ));
        }
        self.store.set_fuel(FUEL_TO_COLLECT).map_err(|error| format!("{error:#}"))?;
        let address = self.intents.call(&mut self.store, ()).map_err(|error| describe(&error, &self.limits, "collecting"))?;
        let start = address as u32 as usize;
        let bytes = self
            .memory
            .data(&self.store)
            .get(start..start + count * RECORD_BYTES)
            .ok_or_else(|| "pointed at intent records outside its memory".to_owned())?;
        for chunk in bytes.chunks_exact(RECORD_BYTES) {
            let mut record = [0i64; RECORD_WORDS];
            for (word, raw) in record.iter_mut().zip(chunk.chunks_exact(8)) {
                *word = i64::from_le_bytes(raw.try_into().expect("chunks of eight bytes"));
            }
            intents.push(abi::decode(&record).map_err(|error| format!("returned a {error}"))?);
        }
        Ok(())
    }
}

/// Says in words why a call stopped.
fn describe(error: &wasmtime::Error, limits: &ModuleLimits, what: &str) -> String {
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => format!(
                "stopped while {what}: ran past its limit of {} fuel per event (an endless or too long loop)",
                limits.fuel_per_event
            ),
            Trap::StackOverflow => format!("stopped while {what}: overflowed its stack"),
            Trap::UnreachableCodeReached => {
                format!("stopped while {what}: trapped (unreachable code: a panic or abort in the module)")
            }
            other => format!("stopped while {what}: trapped ({other})"),
        };
    }
    let text = format!("{error:#}");
    if text.contains("memory") && text.contains("grow") {
        return format!(
            "stopped while {what}: tried to grow past its memory limit of {} MiB",
            limits.memory_bytes >> 20
        );
    }
    format!("stopped while {what}: {text}")
}

fn context(ctx: &StrategyContext) -> Context {
    (ctx.now.nanos(), ctx.position.raw(), ctx.working.raw())
}

impl Strategy for WasmStrategy {
    fn name(&self) -> &'static str {
        "module"
    }

    #[inline]
    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        if !self.ready() {
            return;
        }
        let (now, position, working) = context(ctx);
        let args = (
            now,
            position,
            working,
            bar.instrument.0 as i32,
            bar.ts.nanos(),
            bar.open.raw(),
            bar.high.raw(),
            bar.low.raw(),
            bar.close.raw(),
            bar.volume.raw(),
        );
        let outcome = self.on_bar.call(&mut self.store, args);
        self.finish(outcome, "handling a bar", intents);
    }

    fn on_tick(&mut self, ctx: &StrategyContext, tick: &Tick, intents: &mut IntentBuffer) {
        if !self.ready() {
            return;
        }
        let (now, position, working) = context(ctx);
        let args = (now, position, working, tick.instrument.0 as i32, tick.ts.nanos(), tick.price.raw(), tick.size.raw());
        let outcome = self.on_tick.call(&mut self.store, args);
        self.finish(outcome, "handling a trade", intents);
    }

    fn on_fill(&mut self, ctx: &StrategyContext, fill: &Fill, intents: &mut IntentBuffer) {
        if !self.ready() {
            return;
        }
        let (now, position, working) = context(ctx);
        let args = (
            now,
            position,
            working,
            fill.instrument.0 as i32,
            abi::side_code(fill.side),
            fill.qty.raw(),
            fill.price.raw(),
            fill.fee.raw(),
            fill.ts.nanos(),
        );
        let outcome = self.on_fill.call(&mut self.store, args);
        self.finish(outcome, "handling a fill", intents);
    }

    fn on_timer(&mut self, ctx: &StrategyContext, intents: &mut IntentBuffer) {
        if !self.ready() {
            return;
        }
        let outcome = self.on_timer.call(&mut self.store, context(ctx));
        self.finish(outcome, "handling a timer", intents);
    }

    fn uses_timer(&self) -> bool {
        self.uses_timer
    }

    fn on_signal(&mut self, ctx: &StrategyContext, signal: &ExternalSignal, intents: &mut IntentBuffer) {
        if !self.ready() {
            return;
        }
        let (now, position, working) = context(ctx);
        let args = (
            now,
            position,
            working,
            signal.instrument.0 as i32,
            abi::action_code(signal.action),
            signal.qty.map_or(abi::NONE, |qty| qty.raw()),
            signal.price.map_or(abi::NONE, |price| price.raw()),
            signal.ts.nanos(),
        );
        let outcome = self.on_signal.call(&mut self.store, args);
        self.finish(outcome, "handling a signal", intents);
    }

    fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }
}
