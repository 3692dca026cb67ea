//! The order lifecycle: FIX-like states and the one function that moves an order between them.
//!
//! ```text
//!  pending_new ──accepted──▶ new ──fill──▶ partially_filled ──fill──▶ filled
//!      │  │  │                │  ╲            │     ▲   │
//!      │  │  └─expired        │   cancel_requested   │   └─cancel_requested─▶ pending_cancel
//!      │  └─cancelled         │        ▼              │                         │  │  │
//!      └─rejected ◀─(late)────┤   pending_cancel ─────┘(cancel_rejected)       │  │  └─expired
//!                             └─cancelled / expired                 cancelled ◀┘  └─fill (complete) ▶ filled
//! ```
//!
//! A stop order the engine emulates (its venue lacks the type, or the trader asked for the stop
//! to stay at the engine) starts `held`: `triggered` makes it `pending_new` (it is sent then),
//! and until then it can only be cancelled or expire.
//!
//! Every state change the engine records goes through [`OrderState::apply`]; an event that is
//! not legal in the current state is refused and changes nothing, so a late or duplicated venue
//! message can never move a filled order back to working. Only a bust the venue reports (an
//! execution broken after the fact) takes fills away, and a filled order works again only when
//! the venue says it does.

use serde::{Deserialize, Serialize};

use crate::fixed::Qty;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Written (write-ahead) but not yet acknowledged by the venue.
    PendingNew,
    /// Working at the venue, nothing filled.
    New,
    /// Working at the venue, part filled.
    PartiallyFilled,
    /// Completely filled (terminal).
    Filled,
    /// A cancel was sent and is not yet confirmed.
    PendingCancel,
    /// Cancelled (terminal); fills before the cancel stand.
    Cancelled,
    /// Refused by a risk check or by the venue (terminal).
    Rejected,
    /// Ended by its time in force (terminal).
    Expired,
    /// Working, nothing filled, and an amend (cancel/replace) was sent and is not confirmed.
    PendingReplace,
    /// Replaced by the amended order, which carries on (terminal).
    Replaced,
    /// A stop held by the engine until a trade triggers it; not at the venue.
    Held,
}

/// Every status, in lifecycle order.
pub const ORDER_STATUSES: [OrderStatus; 11] = [
    OrderStatus::PendingNew,
    OrderStatus::New,
    OrderStatus::PartiallyFilled,
    OrderStatus::Filled,
    OrderStatus::PendingCancel,
    OrderStatus::Cancelled,
    OrderStatus::Rejected,
    OrderStatus::Expired,
    OrderStatus::PendingReplace,
    OrderStatus::Replaced,
    OrderStatus::Held,
];

impl OrderStatus {
    /// Stable snake_case code for storage and APIs.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::PendingNew => "pending_new",
            Self::New => "new",
            Self::PartiallyFilled => "partially_filled",
            Self::Filled => "filled",
            Self::PendingCancel => "pending_cancel",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::PendingReplace => "pending_replace",
            Self::Replaced => "replaced",
            Self::Held => "held",
        }
    }

    /// The status with this code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        ORDER_STATUSES.iter().copied().find(|status| status.code() == code)
    }

    /// True once nothing more can happen to the order.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Cancelled | Self::Rejected | Self::Expired | Self::Replaced)
    }

    /// True while the order may still fill (working, or pending at either end).
    #[must_use]
    pub const fn is_open(self) -> bool {
        !self.is_terminal()
    }
}

/// Something that happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// The venue acknowledged the order.
    Accepted,
    /// A risk check or the venue refused the order.
    Rejected,
    /// An execution of `qty` (unsigned).
    Fill {
        /// Executed quantity.
        qty: Qty,
    },
    /// The engine asked the venue to cancel.
    CancelRequested,
    /// The venue refused the cancel (e.g. the order filled meanwhile).
    CancelRejected,
    /// The order was cancelled (by request, IOC remainder, or before it was sent).
    Cancelled,
    /// The order's time in force ran out.
    Expired,
    /// The engine asked the venue to amend the order (cancel/replace).
    ReplaceRequested,
    /// The venue replaced the order by the amended one.
    Replaced,
    /// The venue refused the amend; the order works on unchanged.
    ReplaceRejected,
    /// A trade reached a held stop's trigger: the engine sends it now.
    Triggered,
    /// The venue broke (busted) an execution of `qty`: it did not happen after all. `working`
    /// says whether the venue still works the order, which decides where a filled order goes.
    Bust {
        /// Quantity of the busted execution.
        qty: Qty,
        /// The venue still works the order (its status after the bust is an open one).
        working: bool,
    },
    /// The venue corrected an execution's quantity from `from` to `to` (a price-only
    /// correction has `from == to` and changes no status).
    Correct {
        /// Quantity booked for the execution.
        from: Qty,
        /// Quantity the venue now says it was.
        to: Qty,
    },
}

impl OrderEvent {
    /// Stable snake_case name for the event log.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Fill { .. } => "fill",
            Self::CancelRequested => "cancel_requested",
            Self::CancelRejected => "cancel_rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::ReplaceRequested => "replace_requested",
            Self::Replaced => "replaced",
            Self::ReplaceRejected => "replace_rejected",
            Self::Triggered => "triggered",
            Self::Bust { .. } => "bust",
            Self::Correct { .. } => "correction",
        }
    }
}

/// An event that is not legal in the order's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event cannot happen in this state.
    #[error("event `{}` is not allowed in state `{}`", event.code(), from.code())]
    Illegal {
        /// The state the order was in.
        from: OrderStatus,
        /// The refused event.
        event: OrderEvent,
    },
    /// A fill of zero or negative quantity, or one that would exceed the order's quantity.
    #[error("fill of {qty} does not fit an order of {order_qty} with {filled} already filled")]
    Overfill {
        /// The fill's quantity.
        qty: Qty,
        /// The order's quantity.
        order_qty: Qty,
        /// Filled before this fill.
        filled: Qty,
    },
}

/// The part of an order the state machine needs: its status and quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderState {
    /// Current status.
    pub status: OrderStatus,
    /// Ordered quantity (unsigned).
    pub qty: Qty,
    /// Filled so far (unsigned).
    pub filled: Qty,
}

impl OrderState {
    /// A freshly written order of `qty`.
    #[must_use]
    pub const fn new(qty: Qty) -> Self {
        Self { status: OrderStatus::PendingNew, qty, filled: Qty::ZERO }
    }

    /// Quantity still open.
    #[must_use]
    pub fn remaining(&self) -> Qty {
        self.qty.checked_sub(self.filled).unwrap_or(Qty::ZERO)
    }

    /// Applies `event`, returning the new status; on error the state is unchanged.
    ///
    /// # Errors
    /// [`TransitionError::Illegal`] when the event cannot happen in the current status, and
    /// [`TransitionError::Overfill`] for a fill that is not positive or exceeds what is open.
    pub fn apply(&mut self, event: OrderEvent) -> Result<OrderStatus, TransitionError> {
        use OrderEvent as E;
        use OrderStatus as S;
        let illegal = Err(TransitionError::Illegal { from: self.status, event });
        let next = match (self.status, event) {
            (S::PendingNew, E::Accepted) => S::New,
            (S::Held, E::Triggered) => S::PendingNew,
            // A venue may refuse an order after acknowledging it (Alpaca's asynchronous
            // `rejected`), as long as nothing of it filled.
            (S::PendingNew | S::New, E::Rejected) => S::Rejected,
            (
                S::Held | S::PendingNew | S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace,
                E::Cancelled,
            ) => S::Cancelled,
            (
                S::Held | S::PendingNew | S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace,
                E::Expired,
            ) => S::Expired,
            (S::New | S::PartiallyFilled | S::PendingReplace, E::CancelRequested) => S::PendingCancel,
            // Only an order with nothing filled is amended: the amended order starts afresh.
            (S::New, E::ReplaceRequested) => S::PendingReplace,
            (S::PendingReplace, E::Replaced) => S::Replaced,
            (S::PendingReplace, E::ReplaceRejected) => {
                if self.filled.is_zero() {
                    S::New
                } else {
                    S::PartiallyFilled
                }
            }
            (S::PendingCancel, E::CancelRejected) => {
                if self.filled.is_zero() {
                    S::New
                } else {
                    S::PartiallyFilled
                }
            }
            // A fill can beat the amend to the venue; the amend then fails or replaces the rest.
            (S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace, E::Fill { qty }) => {
                let filled = self.filled.checked_add(qty).filter(|total| qty.is_positive() && *total <= self.qty);
                let Some(filled) = filled else {
                    return Err(TransitionError::Overfill { qty, order_qty: self.qty, filled: self.filled });
                };
                self.filled = filled;
                if filled == self.qty {
                    S::Filled
                } else if matches!(self.status, S::PendingCancel | S::PendingReplace) {
                    self.status
                } else {
                    S::PartiallyFilled
                }
            }
            // Busts and corrections change what filled, not whether the order was sent: they
            // apply to any order that has fills, ended or not, and never revive a cancelled or
            // expired one. A filled order goes back to working only if the venue says so.
            (
                S::PartiallyFilled | S::Filled | S::PendingCancel | S::Cancelled | S::Expired,
                E::Bust { qty, working },
            ) => {
                let Some(filled) = self.filled.checked_sub(qty).filter(|rest| qty.is_positive() && !rest.is_negative())
                else {
                    return Err(TransitionError::Overfill { qty, order_qty: self.qty, filled: self.filled });
                };
                self.filled = filled;
                match self.status {
                    S::Filled if !working => S::Cancelled,
                    S::Filled | S::PartiallyFilled if filled.is_zero() => S::New,
                    S::Filled | S::PartiallyFilled => S::PartiallyFilled,
                    other => other,
                }
            }
            (
                S::PartiallyFilled | S::Filled | S::PendingCancel | S::Cancelled | S::Expired,
                E::Correct { from, to },
            ) => {
                let filled = self.filled.checked_sub(from).and_then(|rest| rest.checked_add(to)).filter(|total| {
                    from.is_positive() && to.is_positive() && from <= self.filled && *total <= self.qty
                });
                let Some(filled) = filled else {
                    return Err(TransitionError::Overfill { qty: to, order_qty: self.qty, filled: self.filled });
                };
                self.filled = filled;
                match self.status {
                    S::PartiallyFilled | S::PendingCancel if filled == self.qty => S::Filled,
                    // A filled order corrected to less did not go back to the market.
                    S::Filled if filled < self.qty => S::Cancelled,
                    other => other,
                }
            }
            _ => return illegal,
        };
        self.status = next;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderEvent as E;
    use OrderStatus as S;

    const EVENTS: [OrderEvent; 11] = [
        E::Accepted,
        E::Rejected,
        E::Fill { qty: Qty::from_units(4) },
        E::CancelRequested,
        E::CancelRejected,
        E::Cancelled,
        E::Expired,
        E::ReplaceRequested,
        E::Replaced,
        E::ReplaceRejected,
        E::Triggered,
    ];

    /// The expected outcome of every (status, event) pair for an order of 10 with `filled`
    /// already filled; `None` = illegal. A fill of 4 completes the order only when 6 are filled.
    fn expected(status: OrderStatus, event: OrderEvent, filled: i64) -> Option<OrderStatus> {
        let completes = filled == 6;
        match (status, event) {
            (S::PendingNew, E::Accepted) => Some(S::New),
            (S::Held, E::Triggered) => Some(S::PendingNew),
            (S::PendingNew | S::New, E::Rejected) => Some(S::Rejected),
            (
                S::Held | S::PendingNew | S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace,
                E::Cancelled,
            ) => Some(S::Cancelled),
            (
                S::Held | S::PendingNew | S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace,
                E::Expired,
            ) => Some(S::Expired),
            (S::New | S::PartiallyFilled | S::PendingReplace, E::CancelRequested) => Some(S::PendingCancel),
            (S::New, E::ReplaceRequested) => Some(S::PendingReplace),
            (S::PendingReplace, E::Replaced) => Some(S::Replaced),
            (S::PendingReplace, E::ReplaceRejected) => Some(if filled == 0 { S::New } else { S::PartiallyFilled }),
            (S::PendingReplace, E::Fill { .. }) => Some(if completes { S::Filled } else { S::PendingReplace }),
            (S::PendingCancel, E::CancelRejected) => Some(if filled == 0 { S::New } else { S::PartiallyFilled }),
            (S::New | S::PartiallyFilled, E::Fill { .. }) => {
                Some(if completes { S::Filled } else { S::PartiallyFilled })
            }
            (S::PendingCancel, E::Fill { .. }) => Some(if completes { S::Filled } else { S::PendingCancel }),
            _ => None,
        }
    }

    #[test]
    fn every_status_and_event_pair_follows_the_transition_table() {
        let mut checked = 0;
        for status in ORDER_STATUSES {
            for event in EVENTS {
                for filled in [0, 2, 6] {
                    let mut state = OrderState { status, qty: Qty::from_units(10), filled: Qty::from_units(filled) };
                    let before = state;
                    let outcome = state.apply(event);
                    match expected(status, event, filled) {
                        Some(next) => {
                            assert_eq!(outcome, Ok(next), "{status:?} + {event:?} (filled {filled})");
                            assert_eq!(state.status, next);
                        }
                        None => {
                            assert_eq!(
                                outcome,
                                Err(TransitionError::Illegal { from: status, event }),
                                "{status:?} + {event:?} must be illegal"
                            );
                            assert_eq!(state, before, "an illegal event changes nothing");
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 11 * 11 * 3);
    }

    #[test]
    fn terminal_states_accept_no_lifecycle_event() {
        for status in ORDER_STATUSES.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                let mut state = OrderState { status, qty: Qty::from_units(10), filled: Qty::ZERO };
                assert!(state.apply(event).is_err(), "{status:?} + {event:?}");
            }
        }
    }

    #[test]
    fn fills_accumulate_until_the_order_is_filled() {
        let mut state = OrderState::new(Qty::from_units(10));
        assert_eq!(state.apply(E::Accepted), Ok(S::New));
        assert_eq!(state.apply(E::Fill { qty: Qty::from_units(3) }), Ok(S::PartiallyFilled));
        assert_eq!(state.remaining(), Qty::from_units(7));
        assert_eq!(state.apply(E::Fill { qty: Qty::from_units(7) }), Ok(S::Filled));
        assert_eq!(state.filled, Qty::from_units(10));
    }

    #[test]
    fn overfill_and_non_positive_fills_are_refused_without_change() {
        let mut state = OrderState { status: S::PartiallyFilled, qty: Qty::from_units(10), filled: Qty::from_units(8) };
        let before = state;
        assert!(matches!(state.apply(E::Fill { qty: Qty::from_units(3) }), Err(TransitionError::Overfill { .. })));
        assert!(matches!(state.apply(E::Fill { qty: Qty::ZERO }), Err(TransitionError::Overfill { .. })));
        assert_eq!(state, before);
    }

    fn state(status: OrderStatus, filled: i64) -> OrderState {
        OrderState { status, qty: Qty::from_units(10), filled: Qty::from_units(filled) }
    }

    fn bust(qty: i64, working: bool) -> OrderEvent {
        E::Bust { qty: Qty::from_units(qty), working }
    }

    #[test]
    fn a_bust_of_a_filled_order_reopens_it_only_when_the_venue_still_works_it() {
        let mut ended = state(S::Filled, 10);
        assert_eq!(ended.apply(bust(4, false)), Ok(S::Cancelled));
        assert_eq!(ended.filled, Qty::from_units(6));
        let mut working = state(S::Filled, 10);
        assert_eq!(working.apply(bust(4, true)), Ok(S::PartiallyFilled));
        let mut all = state(S::Filled, 10);
        assert_eq!(all.apply(bust(10, true)), Ok(S::New));
        assert_eq!(all.filled, Qty::ZERO);
    }

    #[test]
    fn a_bust_keeps_working_and_ended_orders_where_they_are() {
        for (status, filled, expected) in [
            (S::PartiallyFilled, 6, S::PartiallyFilled),
            (S::PartiallyFilled, 4, S::New),
            (S::PendingCancel, 6, S::PendingCancel),
            (S::Cancelled, 6, S::Cancelled),
            (S::Expired, 6, S::Expired),
        ] {
            let mut order = state(status, filled);
            assert_eq!(order.apply(bust(4, false)), Ok(expected), "{status:?} filled {filled}");
            assert_eq!(order.filled, Qty::from_units(filled - 4));
        }
    }

    #[test]
    fn a_bust_of_more_than_filled_or_of_an_order_without_fills_is_refused_without_change() {
        let mut order = state(S::PartiallyFilled, 3);
        assert!(matches!(order.apply(bust(4, true)), Err(TransitionError::Overfill { .. })));
        assert!(matches!(order.apply(bust(0, true)), Err(TransitionError::Overfill { .. })));
        assert_eq!(order, state(S::PartiallyFilled, 3));
        for status in [S::PendingNew, S::New, S::Rejected] {
            let mut order = state(status, 0);
            assert!(matches!(order.apply(bust(1, true)), Err(TransitionError::Illegal { .. })), "{status:?}");
        }
    }

    #[test]
    fn a_correction_moves_the_filled_quantity_and_never_revives_an_order() {
        let correct = |from: i64, to: i64| E::Correct { from: Qty::from_units(from), to: Qty::from_units(to) };
        let mut price_only = state(S::Filled, 10);
        assert_eq!(price_only.apply(correct(4, 4)), Ok(S::Filled));
        let mut less = state(S::Filled, 10);
        assert_eq!(less.apply(correct(4, 3)), Ok(S::Cancelled));
        assert_eq!(less.filled, Qty::from_units(9));
        let mut completes = state(S::PartiallyFilled, 8);
        assert_eq!(completes.apply(correct(2, 4)), Ok(S::Filled));
        let mut too_much = state(S::PartiallyFilled, 8);
        assert!(too_much.apply(correct(2, 5)).is_err());
        assert_eq!(too_much, state(S::PartiallyFilled, 8));
    }

    #[test]
    fn status_codes_round_trip() {
        for status in ORDER_STATUSES {
            assert_eq!(OrderStatus::from_code(status.code()), Some(status));
        }
        assert_eq!(OrderStatus::from_code("canceled"), None);
        assert!(S::PendingCancel.is_open() && !S::Expired.is_open());
    }
}
