//! Average-cost position accounting with realized and unrealized P&L.
//!
//! The position keeps its exact cost basis (the signed sum of the notionals still held) rather
//! than a rounded average price, so that closing a position always realizes exactly
//! `exit notional - entry notional`.

use crate::fixed::{Money, Price, Qty};
use crate::market::{Fill, InstrumentId};

/// Accounting overflowed `i64` (amounts beyond ±92 billion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("position accounting overflowed")]
pub struct AccountingOverflow;

/// A signed position in one instrument, accounted at average cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// The instrument held.
    pub instrument: InstrumentId,
    qty: Qty,
    cost_basis: Money,
    realized_pnl: Money,
    fees: Money,
}

impl Position {
    /// A flat position in `instrument`.
    #[must_use]
    pub fn flat(instrument: InstrumentId) -> Self {
        Self { instrument, ..Self::default() }
    }

    /// A position restored from stored accounting fields (the inverse of the getters), e.g. a
    /// row loaded from the database.
    #[must_use]
    pub const fn from_parts(
        instrument: InstrumentId,
        qty: Qty,
        cost_basis: Money,
        realized_pnl: Money,
        fees: Money,
    ) -> Self {
        Self { instrument, qty, cost_basis, realized_pnl, fees }
    }

    /// The position that `fills`, applied in order to a flat one, leave: how a position is
    /// rebuilt when an execution it was booked from is busted or corrected.
    ///
    /// # Errors
    /// [`AccountingOverflow`] on amounts beyond `i64`.
    pub fn replay<'a>(
        instrument: InstrumentId,
        fills: impl IntoIterator<Item = &'a Fill>,
    ) -> Result<Self, AccountingOverflow> {
        let mut position = Self::flat(instrument);
        for fill in fills {
            position.apply_fill(fill)?;
        }
        Ok(position)
    }

    /// Signed quantity held: positive long, negative short.
    #[must_use]
    pub const fn qty(&self) -> Qty {
        self.qty
    }

    /// True when nothing is held.
    #[must_use]
    pub const fn is_flat(&self) -> bool {
        self.qty.is_zero()
    }

    /// Signed notional paid for what is held (negative for a short: proceeds received).
    #[must_use]
    pub const fn cost_basis(&self) -> Money {
        self.cost_basis
    }

    /// Realized P&L so far, net of fees.
    #[must_use]
    pub const fn realized_pnl(&self) -> Money {
        self.realized_pnl
    }

    /// Fees paid so far.
    #[must_use]
    pub const fn fees(&self) -> Money {
        self.fees
    }

    /// Average entry price of what is held, rounded to 8 decimals; `None` when flat.
    #[must_use]
    pub fn average_price(&self) -> Option<Price> {
        if self.qty.is_zero() {
            return None;
        }
        let price = self.cost_basis.checked_mul_ratio(crate::fixed::SCALE, self.qty.raw())?;
        Some(Price::from_raw(price.raw()))
    }

    /// Unrealized P&L if what is held were valued at `mark`.
    ///
    /// # Errors
    /// [`AccountingOverflow`] if the market value does not fit.
    #[inline]
    pub fn unrealized_pnl(&self, mark: Price) -> Result<Money, AccountingOverflow> {
        mark.checked_notional(self.qty).and_then(|value| value.checked_sub(self.cost_basis)).ok_or(AccountingOverflow)
    }

    /// Applies a fill and returns the P&L it realized (fees of the fill included).
    ///
    /// A fill that reduces the position releases the closed share of the cost basis; a fill that
    /// crosses zero closes the old position and opens the remainder at the fill price.
    ///
    /// # Errors
    /// [`AccountingOverflow`] on amounts beyond `i64`; the position is left unchanged then.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<Money, AccountingOverflow> {
        let mut next = *self;
        let realized = next.apply_fill_in_place(fill)?;
        *self = next;
        Ok(realized)
    }

    fn apply_fill_in_place(&mut self, fill: &Fill) -> Result<Money, AccountingOverflow> {
        let signed_fill = fill.signed_qty();
        let same_direction = self.qty.is_zero() || (self.qty.is_positive() == signed_fill.is_positive());
        let mut realized = Money::ZERO;
        if same_direction {
            let notional = fill.price.checked_notional(signed_fill).ok_or(AccountingOverflow)?;
            self.cost_basis = self.cost_basis.checked_add(notional).ok_or(AccountingOverflow)?;
            self.qty = self.qty.checked_add(signed_fill).ok_or(AccountingOverflow)?;
        } else {
            let held = self.qty.checked_abs().ok_or(AccountingOverflow)?;
            let closing = if fill.qty < held { fill.qty } else { held };
            // The share of the cost basis that leaves with the closed quantity; all of it when
            // the position closes, so a round trip realizes exactly exit minus entry notional.
            let released_cost = if closing == held {
                self.cost_basis
            } else {
                self.cost_basis.checked_mul_ratio(closing.raw(), held.raw()).ok_or(AccountingOverflow)?
            };
            let closing_signed = closing.signed(fill.side);
            let proceeds = fill.price.checked_notional(closing_signed).ok_or(AccountingOverflow)?;
            // Selling out of a long: -(proceeds) is the cash received; P&L = received - cost.
            realized = proceeds
                .checked_neg()
                .and_then(|received| received.checked_sub(released_cost))
                .ok_or(AccountingOverflow)?;
            self.cost_basis = self.cost_basis.checked_sub(released_cost).ok_or(AccountingOverflow)?;
            self.qty = self.qty.checked_add(closing_signed).ok_or(AccountingOverflow)?;
            let opening = fill.qty.checked_sub(closing).ok_or(AccountingOverflow)?;
            if opening.is_positive() {
                let opening_signed = opening.signed(fill.side);
                self.cost_basis = fill.price.checked_notional(opening_signed).ok_or(AccountingOverflow)?;
                self.qty = opening_signed;
            }
        }
        realized = realized.checked_sub(fill.fee).ok_or(AccountingOverflow)?;
        self.fees = self.fees.checked_add(fill.fee).ok_or(AccountingOverflow)?;
        self.realized_pnl = self.realized_pnl.checked_add(realized).ok_or(AccountingOverflow)?;
        Ok(realized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{Side, Timestamp};

    fn fill(side: Side, qty: i64, price: &str, fee: &str) -> Fill {
        Fill {
            instrument: InstrumentId(1),
            side,
            qty: Qty::from_units(qty),
            price: price.parse().unwrap(),
            fee: fee.parse().unwrap(),
            ts: Timestamp::from_nanos(0),
        }
    }

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn replay_without_a_busted_closing_fill_restores_the_short_it_closed() {
        let sold = fill(Side::Sell, 10, "50", "1");
        let bought_back = fill(Side::Buy, 10, "40", "1");
        let mut booked = Position::flat(InstrumentId(1));
        booked.apply_fill(&sold).unwrap();
        booked.apply_fill(&bought_back).unwrap();
        assert_eq!(booked.realized_pnl(), money("98"));
        let rebuilt = Position::replay(InstrumentId(1), [&sold]).unwrap();
        assert_eq!(rebuilt.qty(), Qty::from_units(-10));
        assert_eq!(rebuilt.average_price(), Some("50".parse().unwrap()));
        assert_eq!(rebuilt.realized_pnl(), money("-1"));
        assert_eq!(rebuilt.fees(), money("1"));
    }

    #[test]
    fn long_round_trip_realizes_exit_minus_entry_notional() {
        let mut position = Position::flat(InstrumentId(1));
        assert_eq!(position.apply_fill(&fill(Side::Buy, 100, "100.1793", "0")), Ok(Money::ZERO));
        let realized = position.apply_fill(&fill(Side::Sell, 100, "100.2169", "0")).unwrap();
        assert_eq!(realized, money("3.76"));
        assert!(position.is_flat());
        assert_eq!(position.cost_basis(), Money::ZERO);
        assert_eq!(position.realized_pnl(), money("3.76"));
    }

    #[test]
    fn adding_to_a_long_averages_the_entry_price() {
        let mut position = Position::flat(InstrumentId(1));
        position.apply_fill(&fill(Side::Buy, 1, "10", "0")).unwrap();
        position.apply_fill(&fill(Side::Buy, 3, "14", "0")).unwrap();
        assert_eq!(position.qty(), Qty::from_units(4));
        assert_eq!(position.average_price(), Some("13".parse().unwrap()));
        assert_eq!(position.unrealized_pnl("15".parse().unwrap()), Ok(money("8")));
    }

    #[test]
    fn partial_close_releases_proportional_cost() {
        let mut position = Position::flat(InstrumentId(1));
        position.apply_fill(&fill(Side::Buy, 4, "13", "0")).unwrap();
        let realized = position.apply_fill(&fill(Side::Sell, 1, "15", "0")).unwrap();
        assert_eq!(realized, money("2"));
        assert_eq!(position.qty(), Qty::from_units(3));
        assert_eq!(position.average_price(), Some("13".parse().unwrap()));
    }

    #[test]
    fn short_profits_when_price_falls() {
        let mut position = Position::flat(InstrumentId(1));
        position.apply_fill(&fill(Side::Sell, 2, "50", "0")).unwrap();
        assert_eq!(position.qty(), Qty::from_units(-2));
        assert_eq!(position.unrealized_pnl("45".parse().unwrap()), Ok(money("10")));
        let realized = position.apply_fill(&fill(Side::Buy, 2, "45", "0")).unwrap();
        assert_eq!(realized, money("10"));
    }

    #[test]
    fn fill_crossing_zero_closes_then_opens_the_remainder_at_fill_price() {
        let mut position = Position::flat(InstrumentId(1));
        position.apply_fill(&fill(Side::Buy, 2, "10", "0")).unwrap();
        let realized = position.apply_fill(&fill(Side::Sell, 5, "12", "0")).unwrap();
        assert_eq!(realized, money("4"));
        assert_eq!(position.qty(), Qty::from_units(-3));
        assert_eq!(position.average_price(), Some("12".parse().unwrap()));
    }

    #[test]
    fn fees_reduce_realized_pnl_and_are_totalled() {
        let mut position = Position::flat(InstrumentId(1));
        assert_eq!(position.apply_fill(&fill(Side::Buy, 1, "10", "0.5")), Ok(money("-0.5")));
        assert_eq!(position.apply_fill(&fill(Side::Sell, 1, "11", "0.5")), Ok(money("0.5")));
        assert_eq!(position.realized_pnl(), Money::ZERO);
        assert_eq!(position.fees(), money("1"));
    }

    #[test]
    fn position_restored_from_parts_continues_the_same_accounting() {
        let mut original = Position::flat(InstrumentId(1));
        original.apply_fill(&fill(Side::Buy, 3, "10", "0.1")).unwrap();
        let mut restored = Position::from_parts(
            InstrumentId(1),
            original.qty(),
            original.cost_basis(),
            original.realized_pnl(),
            original.fees(),
        );
        assert_eq!(restored, original);
        let sell = fill(Side::Sell, 3, "12", "0.1");
        assert_eq!(restored.apply_fill(&sell), original.apply_fill(&sell));
        assert_eq!(restored.realized_pnl(), money("5.8"));
    }

    #[test]
    fn overflowing_fill_leaves_the_position_unchanged() {
        let mut position = Position::flat(InstrumentId(1));
        position.apply_fill(&fill(Side::Buy, 1, "10", "0")).unwrap();
        let before = position;
        let huge = Fill { price: Price::MAX, ..fill(Side::Buy, 1000, "1", "0") };
        assert_eq!(position.apply_fill(&huge), Err(AccountingOverflow));
        assert_eq!(position, before);
    }
}
