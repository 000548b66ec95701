//! Bearer tokens for the HTTP API: `POST /api/login` trades a role's password for a token that
//! later requests send as `Authorization: Bearer …` instead of the password (so the web
//! console keeps no password, and the server does not run PBKDF2 on every request).
//!
//! A token is 32 random bytes, kept only as its SHA-256 (a leaked table holds no usable
//! token) in memory: a restart logs everyone out. It expires after `--token-ttl`, on
//! `POST /api/logout`, and as soon as its role is dropped, loses LOGIN or changes password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What a token stands for.
#[derive(Debug, Clone)]
struct Grant {
    user: String,
    /// The role's SCRAM verifier when the token was issued: a new password ends the token.
    verifier: String,
    expires: Instant,
}

#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    grants: Mutex<HashMap<[u8; 32], Grant>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            grants: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Grant>> {
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new token for `user`, whose current verifier is `verifier`.
    pub fn issue(&self, user: &str, verifier: &str) -> anyhow::Result<String> {
        let mut bytes = [0u8; 32];
        omendb_engine::host::fill_random(&mut bytes)?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut grants = self.grants();
        // Forget the expired ones while here, so the table stays as small as the live set.
        grants.retain(|_, grant| grant.expires > now);
        grants.insert(
            digest(&token),
            Grant {
                user: user.to_owned(),
                verifier: verifier.to_owned(),
                expires: now + self.ttl,
            },
        );
        Ok(token)
    }

    /// The user of a live token, given the role's current verifier (`current(user)`); a token
    /// whose role is gone, cannot log in or has another password is revoked.
    pub fn check(
        &self,
        token: &str,
        current: impl FnOnce(&str) -> Option<String>,
    ) -> Option<String> {
        let key = digest(token);
        let grant = self.grants().get(&key).cloned()?;
        if grant.expires <= Instant::now()
            || current(&grant.user).as_deref() != Some(&grant.verifier)
        {
            self.grants().remove(&key);
            return None;
        }
        Some(grant.user)
    }

    /// Ends a token; whether it was live.
    pub fn revoke(&self, token: &str) -> bool {
        self.grants().remove(&digest(token)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_live_until_revoked_expired_or_their_password_changes() {
        let tokens = Tokens::new(Duration::from_secs(60));
        let a = tokens.issue("alice", "v1").unwrap();
        let b = tokens.issue("alice", "v1").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            tokens.check(&a, |_| Some("v1".into())),
            Some("alice".into())
        );
        assert_eq!(tokens.check("forged", |_| Some("v1".into())), None);
        // A new password (another verifier) ends the token, for good.
        assert_eq!(tokens.check(&a, |_| Some("v2".into())), None);
        assert_eq!(tokens.check(&a, |_| Some("v1".into())), None);
        // So does dropping the role.
        assert_eq!(tokens.check(&b, |_| None), None);
        let c = tokens.issue("bob", "v").unwrap();
        assert!(tokens.revoke(&c));
        assert!(!tokens.revoke(&c));
        assert_eq!(tokens.check(&c, |_| Some("v".into())), None);
        let expired = Tokens::new(Duration::ZERO);
        let d = expired.issue("bob", "v").unwrap();
        assert_eq!(expired.check(&d, |_| Some("v".into())), None);
    }
}
