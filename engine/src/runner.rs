//! The strategy runner: leases decide which engine instance runs which strategy, and each
//! running strategy turns live ticks, bars, its fills and timers into orders.
//!
//! At start an instance registers under its `INSTANCE_ID` with a new epoch and resumes that
//! id's open orders. Every `LEASE_RENEW_MILLIS` it (1) heart-beats in `engine_instance`, (2)
//! renews the leases it holds, (3) releases the leases of strategies that were disabled, (4)
//! claims enabled strategies whose lease is free or expired, incrementing the fencing token,
//! and (5) adopts the open orders of instances that are provably gone (see
//! [`Oms::adopt_orphans`]). A strategy task writes its orders with the fencing token it was
//! given; once another instance has taken the lease over, the
//! token is stale and the order write is refused, so two instances never trade one strategy.
//! On shutdown the instance releases its leases at once and marks itself stopped. Before its
//! first round an instance reconciles the open orders with a shared venue (Alpaca), and again
//! after every reconnect of the venue's stream (what it missed while disconnected) and every
//! `RECONCILE_INTERVAL_SECS`. Reconciliation runs in this task, between rounds, so it never
//! races this instance's adoption of the same orders.

use std::{collections::HashMap, time::Duration};

use domain::{bars::BarAggregator, Bar, Qty, Strategy, StrategyContext, Timestamp};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    convert,
    oms::{LeaseClaim, NewOrder, Oms, OmsError, WORKING_STATUSES},
    strategies::{self, StrategyRow},
};

/// The signed position and signed open quantity of one strategy in one symbol.
pub async fn strategy_exposure(
    conn: &mut PgConnection,
    account: &str,
    strategy: &str,
    symbol: &str,
) -> Result<(Qty, Qty), OmsError> {
    let position: Option<Decimal> =
        sqlx::query_scalar("select qty from position where account = $1 and strategy = $2 and symbol = $3")
            .bind(account)
            .bind(strategy)
            .bind(symbol)
            .fetch_optional(&mut *conn)
            .await?;
    let working: Option<Decimal> = sqlx::query_scalar(
        "select sum(case when side = 'buy' then qty - filled_qty else filled_qty - qty end) from \"order\"
          where account = $1 and strategy = $2 and symbol = $3 and status = any($4)",
    )
    .bind(account)
    .bind(strategy)
    .bind(symbol)
    .bind(&WORKING_STATUSES[..])
    .fetch_one(&mut *conn)
    .await?;
    Ok((convert::qty(position.unwrap_or_default())?, convert::qty(working.unwrap_or_default())?))
}

struct Running {
    token: i64,
    updated_at: chrono::DateTime<chrono::Utc>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// How long an order must have been unchanged before a scheduled reconciliation asks the
/// venue about it.
const RECONCILE_QUIET: Duration = Duration::from_secs(2);

/// Reconciles the open orders with a shared venue (nothing for paper): every one at start-up
/// and after a reconnect, those quiet for [`RECONCILE_QUIET`] on the schedule; `why` is logged.
/// Each venue's buying power, which pre-trade risk checks orders against, is read again then.
async fn reconcile(oms: &Oms, why: &'static str) {
    for (_, venue) in oms.venues().shared() {
        venue.refresh_buying_power().await;
    }
    let (quiet_for, changed_before) = match why {
        "scheduled" => (RECONCILE_QUIET, None),
        "start-up" => (Duration::ZERO, Some(oms.started_at())),
        _ => (Duration::ZERO, oms.venues().listen_asked_at()),
    };
    match oms.reconcile_all_open(quiet_for, changed_before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(orders = n, why, "open orders reconciled with the venue"),
        Err(e) => tracing::warn!(error = %e, why, "reconciliation with the venue failed"),
    }
}

/// The scheduled reconciliation: open orders, then positions (see [`crate::reconcile`]).
async fn reconcile_with_positions(oms: &Oms, positions: &mut crate::reconcile::PositionCheck) {
    reconcile(oms, "scheduled").await;
    if let Err(e) = positions.run(oms).await {
        tracing::warn!(error = %e, "position reconciliation failed");
    }
}

/// Runs the lease loop until `stop`, then hands every lease back.
pub async fn run(oms: Oms, ttl: Duration, renew: Duration, reconcile_every: Duration, stop: CancellationToken) {
    let mut running: HashMap<i64, Running> = HashMap::new();
    // Registration comes first: it supersedes an earlier process under this instance id (one
    // killed and restarted within the TTL) and resumes that id's open orders at once.
    let mut attempt = 0u32;
    loop {
        match oms.register().await {
            Ok(0) => break,
            Ok(n) => {
                tracing::info!(orders = n, "open orders of this instance id resumed");
                break;
            }
            Err(e) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "could not register the engine instance; retrying");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(renew.min(Duration::from_secs(1))) => {}
                }
            }
        }
    }
    // Start-up reconciliation runs before the first lease round, in this task, so it never
    // races this instance's adoption of the same orders.
    reconcile(&oms, "start-up").await;
    let reconnected = oms.venues().stream_reconnected();
    let mut positions = crate::reconcile::PositionCheck::default();
    let mut interval = tokio::time::interval(renew);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut scheduled = tokio::time::interval_at(tokio::time::Instant::now() + reconcile_every, reconcile_every);
    scheduled.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
            () = reconnected.notified() => {
                reconcile(&oms, "stream reconnected").await;
                continue;
            }
            _ = scheduled.tick() => {
                reconcile_with_positions(&oms, &mut positions).await;
                continue;
            }
        }
        match round(&oms, ttl, &mut running).await {
            Ok(()) => crate::metrics::heartbeat(),
            Err(e) => tracing::warn!(error = %e, "lease round failed"),
        }
    }
    for (id, r) in running.drain() {
        r.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), r.task).await;
        tracing::info!(strategy_id = id, "strategy stopped for shutdown");
    }
    let released = sqlx::query("update strategy_lease set owner = null, expires_at = '-infinity' where owner = $1")
        .bind(oms.instance_id())
        .execute(oms.pool())
        .await;
    // Only this process's epoch: a newer process under the same id is not marked stopped.
    let stopped = sqlx::query("update engine_instance set stopped_at = now() where instance_id = $1 and epoch = $2")
        .bind(oms.instance_id())
        .bind(oms.epoch())
        .execute(oms.pool())
        .await;
    match (released, stopped) {
        (Ok(r), Ok(_)) => tracing::info!(leases = r.rows_affected(), "leases released"),
        (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "could not release leases; they expire by themselves"),
    }
}

async fn round(oms: &Oms, ttl: Duration, running: &mut HashMap<i64, Running>) -> anyhow::Result<()> {
    let me = oms.instance_id();
    let ttl_secs = ttl.as_secs_f64();
    if !oms.heartbeat(ttl).await? {
        // Fenced: declared gone by another instance (which adopted our orders), or superseded
        // by a newer process under our id. Orders we still own are resumed under a new epoch.
        tracing::warn!(instance = me, epoch = oms.epoch(), "this engine instance was fenced; registering again");
        oms.register().await?;
    }
    sqlx::query(
        "update strategy_lease l set owner = null, expires_at = '-infinity' from strategy s
                  where s.strategy_id = l.strategy_id and l.owner = $1 and not s.enabled",
    )
    .bind(me)
    .execute(oms.pool())
    .await?;
    let held: Vec<(i64, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "update strategy_lease l set expires_at = now() + make_interval(secs => $2)
           from strategy s
          where s.strategy_id = l.strategy_id and l.owner = $1 and l.expires_at > now()
         returning l.strategy_id, l.fencing_token, s.updated_at",
    )
    .bind(me)
    .bind(ttl_secs)
    .fetch_all(oms.pool())
    .await?;
    // Stop what we no longer hold, or whose definition changed (restarted below).
    running.retain(|id, r| {
        let keep = held.iter().any(|(h, token, updated)| h == id && *token == r.token && *updated == r.updated_at);
        if !keep {
            tracing::info!(strategy_id = id, "strategy stopped: lease lost, strategy disabled or changed");
            r.stop.cancel();
        }
        keep
    });
    let claimed: Vec<(i64, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "update strategy_lease l set owner = $1, fencing_token = l.fencing_token + 1,
                expires_at = now() + make_interval(secs => $2)
           from strategy s
          where s.strategy_id = l.strategy_id and s.enabled and (l.owner is null or l.expires_at <= now())
         returning l.strategy_id, l.fencing_token, s.updated_at",
    )
    .bind(me)
    .bind(ttl_secs)
    .fetch_all(oms.pool())
    .await?;
    for (id, token, updated_at) in held.into_iter().chain(claimed) {
        if running.contains_key(&id) {
            continue;
        }
        let Some(def) = strategies::by_id(oms.pool(), id).await? else { continue };
        tracing::info!(strategy = %def.name, fencing_token = token, instance = me, "strategy lease acquired; running it");
        let stop = CancellationToken::new();
        let task = tokio::spawn(run_strategy(
            oms.clone(),
            def,
            LeaseClaim { strategy_id: id, fencing_token: token },
            stop.clone(),
        ));
        running.insert(id, Running { token, updated_at, stop, task });
    }
    match oms.adopt_orphans(ttl).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(orders = n, "open orders of a stopped instance adopted"),
        Err(e) => tracing::warn!(error = %e, "adopting orders failed"),
    }
    Ok(())
}

/// Per-symbol state of a running strategy.
struct SymbolRunner {
    symbol: String,
    bars: BarAggregator,
    strategy: Box<dyn Strategy>,
    /// Position and working quantity as last read from the database (ticks decide on this
    /// copy so that a trade costs no query; bars, fills, timers and every order refresh it).
    exposure: (Qty, Qty),
}

/// What a strategy is told about.
#[derive(Clone, Copy)]
enum Event<'a> {
    Bar(&'a Bar),
    Tick(&'a domain::Tick),
    Fill(&'a domain::Fill),
    Timer(Timestamp),
}

impl Event<'_> {
    fn now(&self) -> Timestamp {
        match self {
            Event::Bar(bar) => bar.ts,
            Event::Tick(tick) => tick.ts,
            Event::Fill(fill) => fill.ts,
            Event::Timer(now) => *now,
        }
    }

    /// The part of a client order id that makes an order of this event unique and the same
    /// when the event is seen again (a retry never creates a second order).
    fn order_key(&self) -> String {
        match self {
            Event::Bar(bar) => bar.ts.millis().to_string(),
            Event::Tick(tick) => format!("t{}", tick.ts.nanos()),
            Event::Fill(fill) => format!("f{}-{}", fill.ts.nanos(), fill.qty.raw()),
            Event::Timer(now) => format!("m{}", now.nanos() / 1_000_000_000),
        }
    }

    /// Whether the strategy decides on fresh exposure from the database.
    fn reads_exposure(&self) -> bool {
        !matches!(self, Event::Tick(_))
    }
}

/// How often running strategies get `on_timer`.
const TIMER_PERIOD: Duration = Duration::from_secs(1);

/// Runs one strategy until `stop` or until its lease turns out to be stale: trades of its
/// symbols go to `on_tick` and into bars (`on_bar` when one closes), fills of its orders booked
/// by this process to `on_fill`, and every second `on_timer`.
pub async fn run_strategy(oms: Oms, def: StrategyRow, lease: LeaseClaim, stop: CancellationToken) {
    let period = i64::from(def.bar_seconds) * 1_000_000_000;
    let mut symbols: HashMap<domain::InstrumentId, SymbolRunner> = HashMap::new();
    for symbol in &def.symbols {
        match strategies::build(&def.kind, &def.params, &oms.market().instruments, symbol) {
            Ok(strategy) => {
                let id = oms.market().instruments.id(symbol);
                let bars = BarAggregator::new(id, period);
                symbols.insert(
                    id,
                    SymbolRunner { symbol: symbol.clone(), bars, strategy, exposure: (Qty::ZERO, Qty::ZERO) },
                );
            }
            Err(e) => {
                tracing::error!(strategy = %def.name, error = %e, "strategy cannot be built; not running it");
                return;
            }
        }
    }
    // Subscribe first, then read history: a tick is either in the history or arrives live.
    let mut ticks = oms.market().subscribe();
    let mut fills = oms.subscribe_fills();
    let mut intents = Vec::with_capacity(4);
    let warmed = warm_up(&oms, &def, &mut symbols, &mut intents).await;
    let mut timer = tokio::time::interval(TIMER_PERIOD);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Market time: the newest tick of any symbol. A quiet symbol's bar closes once the market
    // is a grace period past its end, instead of waiting for its own next trade.
    let mut market_now = i64::MIN;
    let grace = 1_000_000_000;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            _ = timer.tick() => {
                let now = crate::market::now();
                let mut outcome = Ok(());
                // Strategies that ignore timers are not asked (each ask reads the position).
                for runner in symbols.values_mut().filter(|r| r.strategy.uses_timer()) {
                    outcome = outcome.and(decide(&oms, &def, lease, runner, Event::Timer(now), &mut intents).await);
                }
                outcome
            }
            fill = fills.recv() => match fill {
                Ok(booked) if booked.strategy == def.name && booked.account == def.account => {
                    match symbols.get_mut(&booked.fill.instrument) {
                        Some(runner) => decide(&oms, &def, lease, runner, Event::Fill(&booked.fill), &mut intents).await,
                        None => Ok(()),
                    }
                }
                Ok(_) => Ok(()),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(strategy = %def.name, skipped = n, "strategy lagged behind its fills");
                    Ok(())
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            tick = ticks.recv() => {
                let tick = match tick {
                    Ok(t) => t,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(strategy = %def.name, skipped = n, "strategy lagged behind the feed");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if warmed.get(&tick.tick.instrument).is_some_and(|last| tick.tick.ts <= *last) {
                    continue; // already seen in the warm-up history
                }
                on_market_tick(&oms, &def, lease, &mut symbols, &tick.tick, &mut market_now, grace, &mut intents).await
            }
        };
        match outcome {
            Ok(()) => {}
            Err(OmsError::StaleLease) => {
                tracing::warn!(strategy = %def.name, "lease taken over by another instance; stopping");
                return;
            }
            Err(e) => tracing::warn!(strategy = %def.name, error = %e, "event not processed"),
        }
    }
}

/// A trade: `on_tick` for its symbol, then the bars it closes (its own, and those of quiet
/// symbols the market has moved past).
#[allow(clippy::too_many_arguments)]
async fn on_market_tick(
    oms: &Oms,
    def: &StrategyRow,
    lease: LeaseClaim,
    symbols: &mut HashMap<domain::InstrumentId, SymbolRunner>,
    tick: &domain::Tick,
    market_now: &mut i64,
    grace: i64,
    intents: &mut Vec<domain::OrderIntent>,
) -> Result<(), OmsError> {
    if let Some(runner) = symbols.get_mut(&tick.instrument) {
        decide(oms, def, lease, runner, Event::Tick(tick), intents).await?;
    }
    *market_now = (*market_now).max(tick.ts.nanos());
    let flush_at = Timestamp::from_nanos(market_now.saturating_sub(grace));
    let mut closed = Vec::new();
    for (instrument, runner) in symbols.iter_mut() {
        let bar =
            if *instrument == tick.instrument { runner.bars.on_tick(tick) } else { runner.bars.flush_before(flush_at) };
        if let Some(bar) = bar {
            closed.push((*instrument, bar));
        }
    }
    for (instrument, bar) in closed {
        let Some(runner) = symbols.get_mut(&instrument) else { continue };
        decide(oms, def, lease, runner, Event::Bar(&bar), intents).await?;
    }
    Ok(())
}

/// Longest history replayed at start: this many bars, at most an hour.
const WARM_UP_BARS: i64 = 200;

/// Replays recent history through each symbol's bars and strategy, discarding the intents, so a
/// strategy that starts (or is taken over) decides from the same state as a long-running one.
/// Returns the last history tick per instrument.
async fn warm_up(
    oms: &Oms,
    def: &StrategyRow,
    symbols: &mut HashMap<domain::InstrumentId, SymbolRunner>,
    intents: &mut Vec<domain::OrderIntent>,
) -> HashMap<domain::InstrumentId, domain::Timestamp> {
    let span = chrono::Duration::seconds((i64::from(def.bar_seconds) * WARM_UP_BARS).min(3600));
    let end = chrono::Utc::now();
    let mut last_seen = HashMap::new();
    for (instrument, runner) in symbols.iter_mut() {
        let history = oms.market().history(&runner.symbol, end - span, end).await;
        let Ok(mut conn) = oms.pool().acquire().await else { continue };
        let Ok((position, working)) = strategy_exposure(&mut conn, &def.account, &def.name, &runner.symbol).await
        else {
            continue;
        };
        let mut bars = 0;
        runner.exposure = (position, working);
        for tick in &history {
            intents.clear();
            runner.strategy.on_tick(&StrategyContext { now: tick.ts, position, working }, tick, intents);
            if let Some(bar) = runner.bars.on_tick(tick) {
                intents.clear();
                runner.strategy.on_bar(&StrategyContext { now: bar.ts, position, working }, &bar, intents);
                bars += 1;
            }
        }
        if let Some(last) = history.last() {
            last_seen.insert(*instrument, last.ts);
        }
        tracing::info!(strategy = %def.name, symbol = %runner.symbol, ticks = history.len(), bars, "strategy warmed up from history");
    }
    last_seen
}

async fn decide(
    oms: &Oms,
    def: &StrategyRow,
    lease: LeaseClaim,
    runner: &mut SymbolRunner,
    event: Event<'_>,
    intents: &mut Vec<domain::OrderIntent>,
) -> Result<(), OmsError> {
    if event.reads_exposure() {
        refresh_exposure(oms, def, runner).await?;
    }
    let (position, working) = runner.exposure;
    let ctx = StrategyContext { now: event.now(), position, working };
    intents.clear();
    match event {
        Event::Bar(bar) => runner.strategy.on_bar(&ctx, bar, intents),
        Event::Tick(tick) => runner.strategy.on_tick(&ctx, tick, intents),
        Event::Fill(fill) => runner.strategy.on_fill(&ctx, fill, intents),
        Event::Timer(_) => runner.strategy.on_timer(&ctx, intents),
    }
    if intents.is_empty() {
        return Ok(());
    }
    let key = event.order_key();
    for (n, intent) in intents.iter().enumerate() {
        let order = NewOrder {
            account: def.account.clone(),
            strategy: def.name.clone(),
            client_order_id: format!("{}-{}-{key}-{n}", def.name, runner.symbol),
            symbol: runner.symbol.clone(),
            side: intent.side,
            qty: intent.qty,
            order_type: intent.order_type,
            time_in_force: intent.time_in_force,
            reduce_only: intent.reduce_only,
            signal_id: None,
            lease: Some(lease),
            bypass_halt: false,
            emulate: false,
            bracket: intent.bracket,
        };
        let outcome = oms.place(order).await?;
        let o = outcome.order();
        tracing::info!(strategy = %def.name, symbol = %runner.symbol, order_id = o.order_id, side = %o.side,
            qty = %o.qty, status = %o.status, reason = ?o.reject_reason, "strategy order");
    }
    refresh_exposure(oms, def, runner).await
}

async fn refresh_exposure(oms: &Oms, def: &StrategyRow, runner: &mut SymbolRunner) -> Result<(), OmsError> {
    let mut conn = oms.pool().acquire().await?;
    runner.exposure = strategy_exposure(&mut conn, &def.account, &def.name, &runner.symbol).await?;
    Ok(())
}
