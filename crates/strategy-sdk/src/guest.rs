//! The guest side of the ABI, called by the functions [`crate::export_strategy!`] generates.
//! Not for direct use.
//!
//! A module runs one strategy on one thread, so its state is a thread-local cell; the buffers
//! are kept between events so an event allocates nothing.

use std::cell::RefCell;

use domain::{Bar, ExternalSignal, Fill, InstrumentId, Money, OrderIntent, Price, Qty, Tick, Timestamp};

use crate::abi::{self, RECORD_WORDS};
use crate::{Strategy, StrategyBase, StrategyConfigError, StrategyContext, StrategyParams};

/// Builds the module's strategy.
pub type Constructor = fn(&StrategyParams, StrategyBase) -> Result<Box<dyn Strategy>, StrategyConfigError>;

#[derive(Default)]
struct Guest {
    strategy: Option<Box<dyn Strategy>>,
    intents: Vec<OrderIntent>,
    records: Vec<[i64; RECORD_WORDS]>,
    buffer: Vec<u8>,
}

thread_local! {
    static GUEST: RefCell<Guest> = RefCell::new(Guest::default());
}

fn address<T>(pointer: *const T) -> i32 {
    // wasm32 addresses are 32 bits; the host reads them as unsigned offsets into the memory.
    pointer as usize as i32
}

/// Resizes the byte buffer to `len` and returns its address.
pub fn buffer(len: i32) -> i32 {
    GUEST.with_borrow_mut(|guest| {
        guest.buffer.resize(usize::try_from(len).unwrap_or(0), 0);
        address(guest.buffer.as_ptr())
    })
}

/// The address of the records of the last event's intents.
pub fn intents() -> i32 {
    GUEST.with_borrow(|guest| address(guest.records.as_ptr()))
}

/// Builds the strategy from the parameter text in the buffer (`fast=10,slow=30`). Returns 0, or
/// the length of an error message left in the buffer.
pub fn init(constructor: Constructor, instrument: i32, quantity: i64, params_len: i32) -> i32 {
    GUEST.with_borrow_mut(|guest| {
        let len = usize::try_from(params_len).unwrap_or(0).min(guest.buffer.len());
        let outcome = std::str::from_utf8(&guest.buffer[..len])
            .map_err(|_| "parameters are not UTF-8".to_owned())
            .and_then(|text| text.parse::<StrategyParams>().map_err(|error| error.to_string()))
            .and_then(|params| {
                let base = StrategyBase { instrument: InstrumentId(instrument as u32), quantity: Qty::from_raw(quantity) };
                constructor(&params, base).map_err(|error| error.to_string())
            });
        match outcome {
            Ok(strategy) => {
                guest.strategy = Some(strategy);
                0
            }
            Err(message) => {
                guest.buffer.clear();
                guest.buffer.extend_from_slice(message.as_bytes());
                i32::try_from(guest.buffer.len()).unwrap_or(i32::MAX)
            }
        }
    })
}

/// Whether the strategy wants timer events.
pub fn uses_timer() -> i32 {
    GUEST.with_borrow(|guest| i32::from(guest.strategy.as_ref().is_some_and(|strategy| strategy.uses_timer())))
}

fn context(now: i64, position: i64, working: i64) -> StrategyContext {
    StrategyContext { now: Timestamp::from_nanos(now), position: Qty::from_raw(position), working: Qty::from_raw(working) }
}

/// Runs one event against the strategy and leaves its intents as records.
#[inline]
fn event(handle: impl FnOnce(&mut dyn Strategy, &mut Vec<OrderIntent>)) -> i32 {
    GUEST.with_borrow_mut(|guest| {
        let Guest { strategy, intents, records, .. } = guest;
        intents.clear();
        if let Some(strategy) = strategy {
            handle(strategy.as_mut(), intents);
        }
        records.clear();
        records.extend(intents.iter().map(abi::encode));
        i32::try_from(records.len()).unwrap_or(i32::MAX)
    })
}

/// `on_bar`.
pub fn on_bar(now: i64, position: i64, working: i64, instrument: i32, ts: i64, ohlc: [i64; 4], volume: i64) -> i32 {
    let [open, high, low, close] = ohlc.map(Price::from_raw);
    let bar = Bar {
        instrument: InstrumentId(instrument as u32),
        ts: Timestamp::from_nanos(ts),
        open,
        high,
        low,
        close,
        volume: Qty::from_raw(volume),
    };
    event(|strategy, intents| strategy.on_bar(&context(now, position, working), &bar, intents))
}

/// `on_tick`.
pub fn on_tick(now: i64, position: i64, working: i64, instrument: i32, ts: i64, price: i64, size: i64) -> i32 {
    let tick = Tick {
        instrument: InstrumentId(instrument as u32),
        ts: Timestamp::from_nanos(ts),
        price: Price::from_raw(price),
        size: Qty::from_raw(size),
    };
    event(|strategy, intents| strategy.on_tick(&context(now, position, working), &tick, intents))
}

/// `on_fill`; a side code the SDK does not know is dropped.
#[allow(clippy::too_many_arguments)]
pub fn on_fill(
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
    let Some(side) = abi::side_of(i64::from(side)) else { return event(|_, _| {}) };
    let fill = Fill {
        instrument: InstrumentId(instrument as u32),
        side,
        qty: Qty::from_raw(qty),
        price: Price::from_raw(price),
        fee: Money::from_raw(fee),
        ts: Timestamp::from_nanos(ts),
    };
    event(|strategy, intents| strategy.on_fill(&context(now, position, working), &fill, intents))
}

/// `on_timer`.
pub fn on_timer(now: i64, position: i64, working: i64) -> i32 {
    event(|strategy, intents| strategy.on_timer(&context(now, position, working), intents))
}

/// `on_signal`; an action code the SDK does not know is dropped.
#[allow(clippy::too_many_arguments)]
pub fn on_signal(
    now: i64,
    position: i64,
    working: i64,
    instrument: i32,
    action: i32,
    qty: i64,
    price: i64,
    ts: i64,
) -> i32 {
    let Some(action) = abi::action_of(action) else { return event(|_, _| {}) };
    let signal = ExternalSignal {
        instrument: InstrumentId(instrument as u32),
        action,
        qty: (qty != abi::NONE).then(|| Qty::from_raw(qty)),
        price: (price != abi::NONE).then(|| Price::from_raw(price)),
        ts: Timestamp::from_nanos(ts),
    };
    event(|strategy, intents| strategy.on_signal(&context(now, position, working), &signal, intents))
}
