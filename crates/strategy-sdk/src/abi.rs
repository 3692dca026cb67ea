//! The module ABI, version [`ABI_VERSION`]: what a strategy module exports and how intents cross
//! the boundary. Shared by the guest (which encodes) and the host (which decodes and checks).
//!
//! Every event is one call with scalar arguments: times in nanoseconds since the epoch, prices,
//! quantities and money as the domain's raw fixed-point integers, the strategy's position and
//! working quantity first. The call returns how many intents the strategy pushed; the host then
//! reads that many [`RECORD_WORDS`]-word little-endian records at the address `halyard_intents`
//! returns. Parameters go the other way through a byte buffer the guest owns (`halyard_buffer`).

use domain::{Bps, Bracket, InstrumentId, OrderIntent, OrderType, Price, Qty, Side, SignalAction, TimeInForce, Trail};

/// The ABI version a module built with this SDK reports from `halyard_abi_version`.
pub const ABI_VERSION: i32 = 1;

/// 64-bit words per intent record.
pub const RECORD_WORDS: usize = 10;

/// Bytes per intent record.
pub const RECORD_BYTES: usize = RECORD_WORDS * 8;

/// Marks an absent price in a record or an event argument.
pub const NONE: i64 = i64::MIN;

/// A value type of the wasm ABI, for checking a module's exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

use WasmType::{I32, I64};

/// Every function a module must export: name, parameter types, result type.
pub const EXPORTS: &[(&str, &[WasmType], WasmType)] = &[
    ("halyard_abi_version", &[], I32),
    ("halyard_buffer", &[I32], I32),
    ("halyard_intents", &[], I32),
    ("halyard_init", &[I32, I64, I32], I32),
    ("halyard_uses_timer", &[], I32),
    ("halyard_on_bar", &[I64, I64, I64, I32, I64, I64, I64, I64, I64, I64], I32),
    ("halyard_on_tick", &[I64, I64, I64, I32, I64, I64, I64], I32),
    ("halyard_on_fill", &[I64, I64, I64, I32, I32, I64, I64, I64, I64], I32),
    ("halyard_on_timer", &[I64, I64, I64], I32),
    ("halyard_on_signal", &[I64, I64, I64, I32, I32, I64, I64, I64], I32),
];

/// The code of a side.
#[must_use]
pub fn side_code(side: Side) -> i32 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// The side of a code.
#[must_use]
pub fn side_of(code: i64) -> Option<Side> {
    match code {
        0 => Some(Side::Buy),
        1 => Some(Side::Sell),
        _ => None,
    }
}

/// The code of a signal action.
#[must_use]
pub fn action_code(action: SignalAction) -> i32 {
    match action {
        SignalAction::Buy => 0,
        SignalAction::Sell => 1,
        SignalAction::Exit => 2,
    }
}

/// The signal action of a code.
#[must_use]
pub fn action_of(code: i32) -> Option<SignalAction> {
    match code {
        0 => Some(SignalAction::Buy),
        1 => Some(SignalAction::Sell),
        2 => Some(SignalAction::Exit),
        _ => None,
    }
}

fn price_word(price: Option<Price>) -> i64 {
    price.map_or(NONE, Price::raw)
}

fn price_of(word: i64) -> Option<Price> {
    (word != NONE).then(|| Price::from_raw(word))
}

/// Encodes an intent as a record.
#[must_use]
pub fn encode(intent: &OrderIntent) -> [i64; RECORD_WORDS] {
    let (kind, a, b) = match intent.order_type {
        OrderType::Market => (0, 0, 0),
        OrderType::Limit(limit) => (1, limit.raw(), 0),
        OrderType::Stop(stop) => (2, stop.raw(), 0),
        OrderType::StopLimit { stop, limit } => (3, stop.raw(), limit.raw()),
        OrderType::TrailingStop(Trail::Amount(amount)) => (4, amount.raw(), 0),
        OrderType::TrailingStop(Trail::Percent(percent)) => (5, percent.centi_bps(), 0),
    };
    let time_in_force = match intent.time_in_force {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Day => 2,
        TimeInForce::Fok => 3,
    };
    let (take_profit, stop_loss) =
        intent.bracket.map_or((NONE, NONE), |bracket| (price_word(bracket.take_profit), price_word(bracket.stop_loss)));
    [
        i64::from(intent.instrument.0),
        i64::from(side_code(intent.side)),
        intent.qty.raw(),
        kind,
        a,
        b,
        time_in_force,
        i64::from(intent.reduce_only),
        take_profit,
        stop_loss,
    ]
}

/// Why a record is not an intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed intent record: bad {0}")]
pub struct BadRecord(pub &'static str);

/// Decodes a record written by [`encode`], refusing any word that is out of range.
///
/// # Errors
/// [`BadRecord`] naming the first bad word.
pub fn decode(record: &[i64; RECORD_WORDS]) -> Result<OrderIntent, BadRecord> {
    let [instrument, side, qty, kind, a, b, time_in_force, reduce_only, take_profit, stop_loss] = *record;
    let instrument = u32::try_from(instrument).map_err(|_| BadRecord("instrument"))?;
    let side = side_of(side).ok_or(BadRecord("side"))?;
    if qty <= 0 {
        return Err(BadRecord("quantity (must be positive)"));
    }
    let positive = |word: i64, what: &'static str| if word > 0 { Ok(Price::from_raw(word)) } else { Err(BadRecord(what)) };
    let order_type = match kind {
        0 => OrderType::Market,
        1 => OrderType::Limit(positive(a, "limit price")?),
        2 => OrderType::Stop(positive(a, "stop price")?),
        3 => OrderType::StopLimit { stop: positive(a, "stop price")?, limit: positive(b, "limit price")? },
        4 => OrderType::TrailingStop(Trail::Amount(positive(a, "trail amount")?)),
        5 if a > 0 => OrderType::TrailingStop(Trail::Percent(Bps::from_centi_bps(a))),
        5 => return Err(BadRecord("trail percent")),
        _ => return Err(BadRecord("order type")),
    };
    let time_in_force = match time_in_force {
        0 => TimeInForce::Gtc,
        1 => TimeInForce::Ioc,
        2 => TimeInForce::Day,
        3 => TimeInForce::Fok,
        _ => return Err(BadRecord("time in force")),
    };
    let reduce_only = match reduce_only {
        0 => false,
        1 => true,
        _ => return Err(BadRecord("reduce_only")),
    };
    let bracket = (take_profit != NONE || stop_loss != NONE)
        .then(|| Bracket { take_profit: price_of(take_profit), stop_loss: price_of(stop_loss) });
    Ok(OrderIntent {
        instrument: InstrumentId(instrument),
        side,
        qty: Qty::from_raw(qty),
        order_type,
        time_in_force,
        reduce_only,
        bracket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_type_survives_a_round_trip_through_a_record() {
        let instrument = InstrumentId(7);
        let qty = Qty::from_units(3);
        let price = |text: &str| text.parse::<Price>().unwrap();
        let intents = [
            OrderIntent::market(instrument, Side::Buy, qty),
            OrderIntent::of_type(instrument, Side::Sell, qty, OrderType::Limit(price("101.25"))),
            OrderIntent::of_type(instrument, Side::Sell, qty, OrderType::Stop(price("99"))),
            OrderIntent::of_type(
                instrument,
                Side::Buy,
                qty,
                OrderType::StopLimit { stop: price("102"), limit: price("102.5") },
            ),
            OrderIntent::of_type(instrument, Side::Sell, qty, OrderType::TrailingStop(Trail::Amount(price("1.5"))))
                .reducing_only(),
            OrderIntent::of_type(instrument, Side::Sell, qty, OrderType::TrailingStop(Trail::Percent(Bps::from_bps(50)))),
            OrderIntent::market(instrument, Side::Buy, qty)
                .with_bracket(Some(price("110")), None),
        ];
        for intent in intents {
            assert_eq!(decode(&encode(&intent)), Ok(intent));
        }
    }

    #[test]
    fn records_with_out_of_range_words_are_refused_by_name() {
        let good = encode(&OrderIntent::market(InstrumentId(1), Side::Buy, Qty::ONE));
        let with = |index: usize, word: i64| {
            let mut record = good;
            record[index] = word;
            decode(&record).unwrap_err().0
        };
        assert_eq!(with(0, -1), "instrument");
        assert_eq!(with(1, 2), "side");
        assert_eq!(with(2, 0), "quantity (must be positive)");
        assert_eq!(with(3, 9), "order type");
        assert_eq!(with(6, 4), "time in force");
        assert_eq!(with(7, 2), "reduce_only");
    }
}
