//! Roles (users) and their passwords, kept as PostgreSQL keeps them: a SCRAM-SHA-256
//! verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), never the password.
//!
//! The server authenticates pgwire clients with SCRAM against the verifier (the client proves
//! it knows the password without sending it) and HTTP clients by recomputing the verifier's
//! keys from the password they send ([`ScramVerifier::verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// PostgreSQL's default iteration count for new verifiers.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// A role: who may log in, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub login: bool,
    pub superuser: bool,
    /// The password's SCRAM verifier; `None`: password logins fail.
    pub verifier: Option<String>,
}

impl Role {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| Error::Corrupt(format!("role encoding: {e}")))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| Error::Corrupt(format!("role entry: {e}")))
    }
}

/// The parts of a SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    /// `SHA-256(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl ScramVerifier {
    /// The verifier of `password` with this salt and iteration count.
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> Self {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(&client_key).to_vec(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// A new verifier of `password` with a random salt.
    pub fn generate(password: &str) -> Result<Self> {
        let mut salt = [0u8; 16];
        crate::host::fill_random(&mut salt)?;
        Ok(Self::new(password, &salt, SCRAM_ITERATIONS))
    }

    /// Reads PostgreSQL's text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (parameters, keys) = rest.split_once('$')?;
        let (iterations, salt) = parameters.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        let verifier = Self {
            iterations: iterations.parse().ok().filter(|i| *i > 0)?,
            salt: STANDARD.decode(salt).ok()?,
            stored_key: STANDARD.decode(stored_key).ok()?,
            server_key: STANDARD.decode(server_key).ok()?,
        };
        (verifier.stored_key.len() == 32 && verifier.server_key.len() == 32).then_some(verifier)
    }

    /// Whether `password` is the one this verifier was made from (constant time in the
    /// comparison).
    pub fn verify(&self, password: &str) -> bool {
        let candidate = Self::new(password, &self.salt, self.iterations);
        let difference = candidate
            .stored_key
            .iter()
            .zip(&self.stored_key)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0 && candidate.stored_key.len() == self.stored_key.len()
    }
}

impl std::fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }
}

/// The verifier to store for a `PASSWORD '…'` clause: a verifier given as such is kept (as
/// PostgreSQL does, so dumps restore), anything else is a password and gets a new one.
pub fn verifier_for(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(Error::InvalidParameterValue(
            "empty password: use PASSWORD NULL for a role that cannot log in with one".into(),
        ));
    }
    if password.starts_with("SCRAM-SHA-256$") {
        return match ScramVerifier::parse(password) {
            Some(verifier) => Ok(verifier.to_string()),
            None => Err(Error::InvalidParameterValue(
                "malformed SCRAM-SHA-256 verifier".into(),
            )),
        };
    }
    Ok(ScramVerifier::generate(password)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgresql_verifiers() {
        // The verifier of 'secret' with this salt, computed independently from RFC 5802's
        // definitions with Python's hashlib and hmac: what PostgreSQL stores for it.
        let expected = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$\
                        Ce3wZiZ+yIBCjltccfRiqM0+XDsLE3qPdkEeZKe3hus=:\
                        k3q4nlLsA09ST5FLo9zNmfyXR+Ci1J4KmBK5JRVSxeI=";
        let verifier = ScramVerifier::new("secret", b"saltsaltsaltsalt", 4096);
        assert_eq!(verifier.to_string(), expected);
        assert_eq!(ScramVerifier::parse(expected), Some(verifier.clone()));
        assert!(verifier.verify("secret"));
        assert!(!verifier.verify("Secret"));
        assert!(!verifier.verify(""));
    }

    #[test]
    fn verifiers_are_salted_and_checked() {
        let a = verifier_for("pw").unwrap();
        let b = verifier_for("pw").unwrap();
        assert_ne!(a, b, "a new salt each time");
        assert_eq!(verifier_for(&a).unwrap(), a, "a verifier is kept as given");
        assert_eq!(verifier_for("").unwrap_err().sqlstate(), "22023");
        assert_eq!(
            verifier_for("SCRAM-SHA-256$x").unwrap_err().sqlstate(),
            "22023"
        );
        assert_eq!(
            format!("{:?}", ScramVerifier::parse(&a).unwrap()),
            "ScramVerifier { iterations: 4096, .. }"
        );
    }
}

#[cfg(test)]
mod privilege_tests {
    use crate::{Database, DatabaseConfig};

    #[test]
    fn only_superusers_manage_roles_and_anyone_changes_their_password() {
        let db = Database::open(DatabaseConfig::memory()).unwrap();
        let mut setup = db.session();
        setup
            .execute("CREATE USER boss SUPERUSER PASSWORD 'b'; CREATE USER pat PASSWORD 'p'")
            .unwrap();
        let mut pat = db.session();
        pat.set_user("pat");
        let denied = pat.execute("CREATE ROLE x").unwrap_err();
        assert_eq!(denied.sqlstate(), "42501");
        assert_eq!(
            pat.execute("ALTER ROLE boss PASSWORD 'mine'")
                .unwrap_err()
                .sqlstate(),
            "42501"
        );
        assert_eq!(
            pat.execute("ALTER ROLE pat SUPERUSER")
                .unwrap_err()
                .sqlstate(),
            "42501"
        );
        pat.execute("ALTER ROLE pat PASSWORD 'new'").unwrap();
        let verifier = db.role("pat").unwrap().verifier.unwrap();
        assert!(
            super::ScramVerifier::parse(&verifier)
                .unwrap()
                .verify("new")
        );
        let user = pat.execute("SELECT current_user").unwrap().remove(0).rows;
        assert_eq!(user, vec![vec![crate::types::Value::from("pat")]]);

        let mut boss = db.session();
        boss.set_user("boss");
        boss.execute("CREATE ROLE x").unwrap();
        assert_eq!(
            boss.execute("DROP ROLE boss").unwrap_err().sqlstate(),
            "55006"
        );
        boss.execute("DROP ROLE x, pat").unwrap();
        assert!(db.role("pat").is_none());
    }
}
