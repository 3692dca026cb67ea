//! Who may do what: users with argon2 password hashes ([`users`]), sessions in HTTP-only
//! cookies with a CSRF token each ([`session`]), and sign-in rate limiting ([`ratelimit`]).

pub mod ratelimit;
pub mod session;
pub mod users;

use serde::{Deserialize, Serialize};

/// What a user may do. Ordered: each role may do everything the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// Also halts and resumes trading, places and cancels orders.
    Trader,
    /// Also enables and disables strategies and changes risk limits (users: CLI only).
    Admin,
}

impl Role {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Trader => "trader",
            Self::Admin => "admin",
        }
    }

    /// Whether this role may halt and resume trading, place and cancel orders.
    pub fn can_trade(self) -> bool {
        self >= Self::Trader
    }

    /// Whether this role may change strategies and risk limits.
    pub fn can_administer(self) -> bool {
        self >= Self::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "trader" => Ok(Self::Trader),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}: expected viewer, trader or admin")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A random token of 32 bytes, hex-encoded (session cookies, CSRF tokens, generated passwords).
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Constant-time equality of two secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_traders_and_admins_may_trade() {
        assert!(!Role::Viewer.can_trade());
        assert!(Role::Trader.can_trade());
        assert!(Role::Admin.can_trade());
    }

    #[test]
    fn roles_round_trip_through_their_codes() {
        for role in [Role::Viewer, Role::Trader, Role::Admin] {
            assert_eq!(role.code().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn secrets_of_different_length_or_content_differ() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
