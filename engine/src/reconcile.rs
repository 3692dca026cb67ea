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
//!
//! An execution the venue reports for an order the engine did not place (a trade made by hand
//! at the venue, seen on its stream) needs no second look: it halts the same accounts at the
//! next check, with the execution as the reason. This is how a manual trade at Binance is
//! caught, whose spot balances cannot be compared with the engine's fills.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use crate::oms::{Oms, OPEN_STATUSES};

/// The actor that halts accounts on a break.
pub const ACTOR: &str = "reconciliation";

/// The state between checks: differences seen once, not yet confirmed, by venue name.
#[derive(Debug, Default)]
pub struct PositionCheck {
    suspects: HashMap<String, HashMap<String, (Decimal, Decimal)>>,
    /// Foreign executions taken from each venue and not yet halted for.
    foreign: HashMap<String, Vec<String>>,
}

/// A confirmed difference: the venue, the symbol, the venue's quantity and the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The venue's name (as stored on orders).
    pub venue: String,
    /// Symbol.
    pub symbol: String,
    /// Signed quantity at the venue.
    pub at_venue: Decimal,
    /// Signed net quantity of the engine's fills at the venue.
    pub booked: Decimal,
}

impl PositionCheck {
    /// Compares every shared venue once; returns the breaks confirmed by this check (after
    /// halting for them).
    pub async fn run(&mut self, oms: &Oms) -> Result<Vec<Break>, sqlx::Error> {
        let mut confirmed = Vec::new();
        for (name, venue) in oms.venues().shared() {
            let foreign = self.foreign.entry(name.to_owned()).or_default();
            foreign.extend(venue.take_foreign_executions());
            if !foreign.is_empty() {
                for what in foreign.iter() {
                    crate::metrics::reconciliation_break("foreign");
                    tracing::error!(venue = name, %what, "an execution at the venue the engine did not place");
                }
                halt_accounts(oms, name, &foreign.join("; ")).await?;
                foreign.clear();
            }
            let Some(at_venue) = venue.positions().await else { continue };
            let breaks = self.compare(oms, name, at_venue).await?;
            if !breaks.is_empty() {
                halt_for_breaks(oms, name, &breaks).await?;
            }
            confirmed.extend(breaks);
        }
        Ok(confirmed)
    }

    async fn compare(
        &mut self,
        oms: &Oms,
        venue: &str,
        at_venue: Vec<(String, Decimal)>,
    ) -> Result<Vec<Break>, sqlx::Error> {
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
        let suspects = self.suspects.entry(venue.to_owned()).or_default();
        let mut confirmed: Vec<Break> = differences
            .iter()
            .filter(|(symbol, d)| suspects.get(*symbol) == Some(*d))
            .map(|(symbol, (at_venue, booked))| Break {
                venue: venue.to_owned(),
                symbol: symbol.clone(),
                at_venue: *at_venue,
                booked: *booked,
            })
            .collect();
        confirmed.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        for (symbol, (v, e)) in &differences {
            if !suspects.contains_key(symbol) {
                tracing::info!(%symbol, at_venue = %v, booked = %e, venue, "position differs from the venue's; checking again");
            }
        }
        *suspects = differences;
        Ok(confirmed)
    }
}

async fn halt_for_breaks(oms: &Oms, venue: &str, breaks: &[Break]) -> Result<(), sqlx::Error> {
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
    halt_accounts(oms, venue, &reason).await
}

/// Halts every account with orders at `venue` (once: an account this actor halted already
/// stays as it is).
async fn halt_accounts(oms: &Oms, venue: &str, reason: &str) -> Result<(), sqlx::Error> {
    let pool = oms.pool();
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
                false,
            )
            .await?;
        }
    }
    Ok(())
}
