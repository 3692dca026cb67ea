//! Position reconciliation with a shared venue (Alpaca): after the open orders are reconciled
//! (see [`crate::runner`]), the venue's positions are compared, symbol by symbol, with the net
//! quantity of the engine's fills at that venue.
//!
//! A difference on a symbol with an order in flight is explained by timing (its fills may not
//! be booked yet) and ignored. Any other difference is a break only when the next check finds
//! the same difference again: a fill being booked between the two reads cannot cause that. A
//! break halts every engine account that trades at the venue (they share the broker account),
//! by the actor `reconciliation`, with the symbol and both quantities as the reason, and counts
//! `ReconciliationBreaks`; the `HaltActive` alarm then pages. Nothing is booked to hide it: an
//! operator decides, then resumes the accounts.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use crate::oms::{Oms, OPEN_STATUSES};

/// The actor that halts accounts on a break.
pub const ACTOR: &str = "reconciliation";

/// The state between checks: differences seen once, not yet confirmed.
#[derive(Debug, Default)]
pub struct PositionCheck {
    suspects: HashMap<String, (Decimal, Decimal)>,
}

/// A confirmed difference: the symbol, the venue's quantity and the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Symbol.
    pub symbol: String,
    /// Signed quantity at the venue.
    pub at_venue: Decimal,
    /// Signed net quantity of the engine's fills at the venue.
    pub booked: Decimal,
}

impl PositionCheck {
    /// Compares once; returns the breaks confirmed by this check (after halting for them).
    pub async fn run(&mut self, oms: &Oms) -> Result<Vec<Break>, sqlx::Error> {
        let Some(at_venue) = oms.venue().positions().await else {
            return Ok(Vec::new());
        };
        let venue = oms.venue().name();
        let pool = oms.pool();
        let booked: Vec<(String, Option<Decimal>)> = sqlx::query_as(
            "select symbol, sum(case when side = 'buy' then qty else -qty end) from fill where venue = $1 group by symbol",
        )
        .bind(venue)
        .fetch_all(pool)
        .await?;
        let in_flight: Vec<String> =
            sqlx::query_scalar("select distinct symbol from \"order\" where venue = $1 and status = any($2)")
                .bind(venue)
                .bind(&OPEN_STATUSES[..])
                .fetch_all(pool)
                .await?;
        let mut both: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for (symbol, qty) in at_venue {
            both.entry(symbol).or_default().0 += qty;
        }
        for (symbol, qty) in booked {
            both.entry(symbol).or_default().1 += qty.unwrap_or_default();
        }
        let differences: HashMap<String, (Decimal, Decimal)> = both
            .into_iter()
            .filter(|(symbol, (v, e))| v.normalize() != e.normalize() && !in_flight.contains(symbol))
            .collect();
        let mut confirmed: Vec<Break> = differences
            .iter()
            .filter(|(symbol, d)| self.suspects.get(*symbol) == Some(*d))
            .map(|(symbol, (at_venue, booked))| Break { symbol: symbol.clone(), at_venue: *at_venue, booked: *booked })
            .collect();
        confirmed.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        for (symbol, (v, e)) in &differences {
            if !self.suspects.contains_key(symbol) {
                tracing::info!(%symbol, at_venue = %v, booked = %e, venue, "position differs from the venue's; checking again");
            }
        }
        self.suspects = differences;
        if !confirmed.is_empty() {
            halt_accounts(oms, venue, &confirmed).await?;
        }
        Ok(confirmed)
    }
}

async fn halt_accounts(oms: &Oms, venue: &str, breaks: &[Break]) -> Result<(), sqlx::Error> {
    let pool = oms.pool();
    let reason = breaks
        .iter()
        .map(|b| {
            format!(
                "{venue} holds {} {}, the engine's fills make {}",
                b.symbol,
                b.at_venue.normalize(),
                b.booked.normalize()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    for b in breaks {
        crate::metrics::reconciliation_break(&b.symbol);
        tracing::error!(symbol = %b.symbol, at_venue = %b.at_venue, booked = %b.booked, venue, "position break with the venue");
    }
    let accounts: Vec<String> =
        sqlx::query_scalar("select distinct account from \"order\" where venue = $1 order by 1")
            .bind(venue)
            .fetch_all(pool)
            .await?;
    let active = crate::halt::active(pool).await?;
    for account in accounts {
        let halted = active
            .iter()
            .any(|h| h.created_by == ACTOR && h.scope == "account" && h.account.as_deref() == Some(account.as_str()));
        if !halted {
            crate::halt::halt(
                pool,
                ACTOR,
                "account",
                Some(&account),
                None,
                &format!("reconciliation: {reason}"),
                false,
            )
            .await?;
        }
    }
    Ok(())
}
