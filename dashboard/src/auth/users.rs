//! Dashboard users: argon2id password hashes in `dashboard_user`.

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use sqlx::PgPool;

use super::Role;

/// A stored user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Role code.
    pub role: String,
}

/// Why a user could not be created or checked.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username does not fit the allowed pattern.
    #[error("username must be 1 to 64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit")]
    BadUsername,
    /// The password is too short or too long.
    #[error("password must be 12 to 256 characters")]
    BadPassword,
    /// The name is taken.
    #[error("a user named {0:?} already exists")]
    Taken(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

/// Hashes `password` with argon2id and a random salt (CPU-heavy: call off the async workers).
pub fn hash_password(password: &str) -> Result<String, UserError> {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (CPU-heavy: call off the async workers).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a password nobody has, checked when the username is unknown so that an unknown
/// name takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&super::random_token()).unwrap_or_default())
}

/// Creates a user; returns its id.
pub async fn create_user(pool: &PgPool, username: &str, password: &str, role: Role) -> Result<i64, UserError> {
    if !valid_username(username) {
        return Err(UserError::BadUsername);
    }
    if !(12..=256).contains(&password.chars().count()) {
        return Err(UserError::BadPassword);
    }
    let owned = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&owned))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    let id: Option<i64> = sqlx::query_scalar(
        "insert into dashboard_user (username, password_hash, role) values ($1, $2, $3)
         on conflict (username) do nothing returning user_id",
    )
    .bind(username)
    .bind(hash)
    .bind(role.code())
    .fetch_optional(pool)
    .await?;
    id.ok_or_else(|| UserError::Taken(username.to_owned()))
}

/// Sets a new password for `username` and ends its sessions; `false` when there is no such user.
pub async fn reset_password(pool: &PgPool, username: &str, password: &str) -> Result<bool, UserError> {
    if !(12..=256).contains(&password.chars().count()) {
        return Err(UserError::BadPassword);
    }
    let owned = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&owned))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    let mut tx = pool.begin().await?;
    let id: Option<i64> =
        sqlx::query_scalar("update dashboard_user set password_hash = $2 where username = $1 returning user_id")
            .bind(username)
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(id) = id {
        sqlx::query("delete from dashboard_session where user_id = $1").bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(id.is_some())
}

/// The enabled user with this name and password, or `None`. Takes about as long either way.
pub async fn authenticate(pool: &PgPool, username: &str, password: &str) -> Result<Option<User>, UserError> {
    let row: Option<(i64, String, String, String)> = sqlx::query_as(
        "select user_id, username, role, password_hash from dashboard_user where username = $1 and disabled_at is null",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let stored = row.as_ref().map_or_else(|| decoy_hash().to_owned(), |r| r.3.clone());
    let owned = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&owned, &stored))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))?;
    Ok(match row {
        Some((user_id, username, role, _)) if ok => Some(User { user_id, username, role }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn usernames_are_lowercase_words() {
        assert!(valid_username("alice"));
        assert!(valid_username("ops.team-1"));
        assert!(!valid_username(""));
        assert!(!valid_username("Alice"));
        assert!(!valid_username("-x"));
        assert!(!valid_username("a b"));
    }
}
