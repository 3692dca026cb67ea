//! The audit log: who changed what (risk limits, halts, strategies), written in the same
//! transaction as the change.

use sqlx::PgConnection;

/// Appends an audit entry.
pub async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into audit_log (actor, action, target, detail) values ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
