//! The symbol table and an in-process cache of it. Symbols are created the first time a feed or
//! an import mentions them; their ids never change, so the cache never needs invalidating.

use std::{collections::HashMap, sync::Arc};

use sqlx::PgPool;
use tokio::sync::RwLock;

/// Symbol name ↔ id, cached.
#[derive(Clone, Default)]
pub struct Symbols {
    by_name: Arc<RwLock<HashMap<String, i32>>>,
}

impl Symbols {
    /// The id of `symbol` (canonical form), creating the row if needed.
    pub async fn id_or_create(&self, pool: &PgPool, symbol: &str) -> Result<i32, sqlx::Error> {
        if let Some(id) = self.by_name.read().await.get(symbol) {
            return Ok(*id);
        }
        // `do update` (a no-op) rather than `do nothing`, so `returning` yields the existing row.
        let id: i32 = sqlx::query_scalar(
            "insert into symbol (symbol) values ($1)
             on conflict (symbol) do update set symbol = excluded.symbol
             returning symbol_id",
        )
        .bind(symbol)
        .fetch_one(pool)
        .await?;
        self.by_name.write().await.insert(symbol.to_owned(), id);
        Ok(id)
    }

    /// The id of an existing symbol, or `None` when no data was ever stored for it.
    pub async fn id(&self, pool: &PgPool, symbol: &str) -> Result<Option<i32>, sqlx::Error> {
        if let Some(id) = self.by_name.read().await.get(symbol) {
            return Ok(Some(*id));
        }
        let id: Option<i32> = sqlx::query_scalar("select symbol_id from symbol where symbol = $1")
            .bind(symbol)
            .fetch_optional(pool)
            .await?;
        if let Some(id) = id {
            self.by_name.write().await.insert(symbol.to_owned(), id);
        }
        Ok(id)
    }
}
