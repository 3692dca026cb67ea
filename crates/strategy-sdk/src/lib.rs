//! Halyard's guest SDK: a strategy compiled to `wasm32-unknown-unknown` and run by the engine's
//! sandbox (the `strategy-host` crate) in backtests, on paper and live.
//!
//! A module implements the same [`Strategy`] trait as the built-ins, with the same domain types
//! (exact prices and quantities, intents, bars, ticks, fills, signals), and names its
//! constructor with [`export_strategy!`]:
//!
//! ```ignore
//! use strategy_sdk::{export_strategy, Strategy, StrategyBase, StrategyConfigError, StrategyParams};
//!
//! struct Mine;
//! impl Mine {
//!     fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> { Ok(Mine) }
//! }
//! impl Strategy for Mine { fn name(&self) -> &'static str { "mine" } }
//! export_strategy!(Mine::from_params);
//! ```
//!
//! The module imports nothing (no clock, no I/O, no randomness): what it decides depends only on
//! the events it is given, which is what makes a backtest of it a rehearsal of its live run.
//! The host enforces a fuel budget per event and a memory ceiling; a module that traps (a panic
//! is an abort), loops or grows past its memory is stopped and its strategy disabled.
//!
//! The [`abi`] module is the wire contract between the two sides; the host decodes with the same
//! code the guest encodes with.

pub mod abi;
#[doc(hidden)]
pub mod guest;

pub use domain::strategy::{
    IntentBuffer, ParamReader, Strategy, StrategyBase, StrategyConfigError, StrategyContext, StrategyParams,
};
pub use domain::{
    Bar, Bps, Bracket, ExternalSignal, Fill, InstrumentId, Money, OrderIntent, OrderType, Price, Qty, Side,
    SignalAction, Tick, TimeInForce, Timestamp, Trail,
};

/// Exports a strategy's constructor, `fn(&StrategyParams, StrategyBase) -> Result<S,
/// StrategyConfigError>` with `S: Strategy + 'static`, and the event entry points the host calls.
/// Use it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_strategy {
    ($constructor:path) => {
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_abi_version() -> i32 {
            $crate::abi::ABI_VERSION
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_buffer(len: i32) -> i32 {
            $crate::guest::buffer(len)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_intents() -> i32 {
            $crate::guest::intents()
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_init(instrument: i32, quantity: i64, params_len: i32) -> i32 {
            $crate::guest::init(
                |params, base| {
                    $constructor(params, base).map(|strategy| {
                        ::std::boxed::Box::new(strategy) as ::std::boxed::Box<dyn $crate::Strategy>
                    })
                },
                instrument,
                quantity,
                params_len,
            )
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_uses_timer() -> i32 {
            $crate::guest::uses_timer()
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub extern "C" fn halyard_on_bar(
            now: i64,
            position: i64,
            working: i64,
            instrument: i32,
            ts: i64,
            open: i64,
            high: i64,
            low: i64,
            close: i64,
            volume: i64,
        ) -> i32 {
            $crate::guest::on_bar(now, position, working, instrument, ts, [open, high, low, close], volume)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub extern "C" fn halyard_on_tick(
            now: i64,
            position: i64,
            working: i64,
            instrument: i32,
            ts: i64,
            price: i64,
            size: i64,
        ) -> i32 {
            $crate::guest::on_tick(now, position, working, instrument, ts, price, size)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub extern "C" fn halyard_on_fill(
            now: i64,
            position: i64,
            working: i64,
            instrument: i32,
            side: i32,
            qty: i64,
            price: i64,
            fee: i64,
            ts: i64,
        ) -> i32 {
            $crate::guest::on_fill(now, position, working, instrument, side, qty, price, fee, ts)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn halyard_on_timer(now: i64, position: i64, working: i64) -> i32 {
            $crate::guest::on_timer(now, position, working)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub extern "C" fn halyard_on_signal(
            now: i64,
            position: i64,
            working: i64,
            instrument: i32,
            action: i32,
            qty: i64,
            price: i64,
            ts: i64,
        ) -> i32 {
            $crate::guest::on_signal(now, position, working, instrument, action, qty, price, ts)
        }
    };
}
