//! Who may connect: SCRAM-SHA-256 against the roles in the catalog (the default), or `trust`
//! (any user name, no password; refused unless every listener is on loopback).
//!
//! Unknown users, roles without LOGIN and roles without a password get a mock SCRAM exchange
//! (a salt derived from the user name and a per-process secret, keys no password matches), so
//! a client learns nothing beyond "password authentication failed" (28P01) — the same answer
//! a wrong password gets. Every failure is logged with the user and the peer.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::Sink;
use omendb_engine::Session;
use omendb_engine::auth::{Role, ScramVerifier, verifier_for};
use pgwire::api::auth::sasl::SaslMechanisms;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::{
    AuthDriver, AuthOutcome, AuthSource, DefaultServerParameterProvider, LoginInfo, Password,
    StartupHandler,
    mechanism::{AuthMechanism, AuthMechanismFactory, AuthState},
};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sha2::{Digest, Sha256};

use crate::Shared;

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// SCRAM-SHA-256 with the passwords of the catalog's roles.
    Scram,
    /// No authentication: any user name is accepted (loopback listeners only).
    Trust,
}

/// What every connection's authentication shares.
pub struct Auth {
    /// `--require-tls`.
    require_tls: bool,
    parameters: Arc<DefaultServerParameterProvider>,
    /// `None` in trust mode.
    sasl: Option<Arc<SaslMechanisms>>,
}

impl Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("scram", &self.sasl.is_some())
            .finish()
    }
}

impl Auth {
    pub fn new(mode: AuthMode, shared: &Arc<Shared>, require_tls: bool) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        // What drivers parse as the server's version: PostgreSQL 16's protocol and catalog.
        parameters.server_version = format!("16.0 (OmenDB {})", omendb_engine::VERSION);
        parameters.is_superuser = false;
        let sasl = (mode == AuthMode::Scram).then(|| {
            let mut secret = [0u8; 32];
            // Without randomness the mock salts are still per user, only predictable.
            let _ = omendb_engine::host::fill_random(&mut secret);
            let source = Arc::new(RoleSource {
                shared: shared.clone(),
                secret,
            });
            Arc::new(SaslMechanisms::new(vec![]).with_mechanism(Arc::new(ScramAuth::new(source))))
        });
        Self {
            require_tls,
            parameters: Arc::new(parameters),
            sasl,
        }
    }

    /// The startup handler of one connection: authenticates it, then gives its session the
    /// user's name.
    pub fn startup(
        &self,
        session: Arc<Mutex<Session>>,
        manager: Arc<ConnectionManager>,
        refuse: bool,
    ) -> Startup {
        Startup {
            refuse,
            require_tls: self.require_tls,
            driver: AuthDriver::new(self.parameters.clone()).with_connection_manager(manager),
            sasl: self.sasl.clone(),
            session,
        }
    }
}

/// One connection's startup: protocol negotiation, authentication, then the session's user.
pub struct Startup {
    /// The connection is over `--max-connections`: its startup fails with 53300.
    refuse: bool,
    require_tls: bool,
    driver: AuthDriver<Arc<DefaultServerParameterProvider>>,
    sasl: Option<Arc<SaslMechanisms>>,
    session: Arc<Mutex<Session>>,
}

impl Startup {
    async fn outcome<C>(&self, client: &mut C, outcome: AuthOutcome) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match outcome {
            AuthOutcome::InProgress => Ok(()),
            AuthOutcome::Authenticated { final_message, .. } => {
                if let Some(user) = client.metadata().get(pgwire::api::METADATA_USER) {
                    let mut session = self
                        .session
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if self.sasl.is_some() {
                        session.set_user(user);
                    } else {
                        session.set_trusted_user(user);
                    }
                }
                self.driver
                    .complete_authentication(client, final_message)
                    .await
            }
        }
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(_) if self.refuse => {
                Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "FATAL".to_owned(),
                    "53300".to_owned(),
                    "sorry, too many clients already".to_owned(),
                ))))
            }
            PgWireFrontendMessage::Startup(_) if self.require_tls && !client.is_secure() => {
                Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "FATAL".to_owned(),
                    "28000".to_owned(),
                    "this server accepts only TLS connections (use sslmode=require)".to_owned(),
                ))))
            }
            PgWireFrontendMessage::Startup(ref startup) => {
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                let mechanism: Box<dyn AuthMechanism> = match &self.sasl {
                    Some(sasl) => sasl.create(),
                    None => Box::new(Trust),
                };
                let outcome = self.driver.begin_authentication(client, mechanism).await?;
                self.outcome(client, outcome).await
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let outcome = self.driver.advance_authentication(client, message).await?;
                self.outcome(client, outcome).await
            }
            _ => Ok(()),
        }
    }
}

/// Trust: authenticated as soon as asked.
struct Trust;

#[async_trait]
impl AuthMechanism for Trust {
    async fn begin(&mut self, _client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<AuthState> {
        Ok(AuthState::Ok {
            final_message: None,
            identity: None,
        })
    }

    async fn next(
        &mut self,
        _client: &(dyn ClientInfo + Send + Sync),
        _message: PasswordMessageFamily,
    ) -> PgWireResult<AuthState> {
        Err(PgWireError::NoAuthenticationInProgress)
    }
}

/// The catalog's roles as pgwire's SCRAM source.
struct RoleSource {
    shared: Arc<Shared>,
    /// Keys the mock exchange of logins that cannot succeed.
    secret: [u8; 32],
}

impl Debug for RoleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleSource").finish_non_exhaustive()
    }
}

impl RoleSource {
    /// The verifier a login is checked against: the role's, or a mock one that no password
    /// matches (stable per user name, so repeated attempts look alike).
    fn verifier(&self, user: &str) -> ScramVerifier {
        let real = self
            .shared
            .db
            .role(user)
            .filter(|role| role.login)
            .and_then(|role| role.verifier)
            .and_then(|text| ScramVerifier::parse(&text));
        real.unwrap_or_else(|| {
            let derive = |label: &[u8]| -> Vec<u8> {
                let mut hash = Sha256::new();
                hash.update(self.secret);
                hash.update(label);
                hash.update(user.as_bytes());
                hash.finalize().to_vec()
            };
            ScramVerifier {
                iterations: omendb_engine::auth::SCRAM_ITERATIONS,
                salt: derive(b"salt")[..16].to_vec(),
                stored_key: derive(b"stored"),
                server_key: derive(b"server"),
            }
        })
    }
}

// async_trait needs the trait's elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait]
impl AuthSource for RoleSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM is offered, which asks get_scram_secret.
        Err(PgWireError::InvalidPassword(
            login.user().unwrap_or_default().to_owned(),
        ))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().ok_or(PgWireError::UserNameRequired)?;
        let verifier = self.verifier(user);
        Ok((
            ScramSecret::Verifier {
                salt: verifier.salt,
                iterations: verifier.iterations as usize,
                stored_key: verifier.stored_key,
                server_key: verifier.server_key,
            },
            None,
        ))
    }
}

/// Logs failed logins (the client gets only 28P01).
#[derive(Debug)]
pub struct LogAuthFailures;

impl ErrorHandler for LogAuthFailures {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let PgWireError::InvalidPassword(_) = error {
            let user = client
                .metadata()
                .get(pgwire::api::METADATA_USER)
                .cloned()
                .unwrap_or_default();
            tracing::warn!(%user, peer = %client.socket_addr(), "password authentication failed");
            // PostgreSQL's words, naming the user the client gave.
            *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "28P01".to_owned(),
                format!("password authentication failed for user \"{user}\""),
            )));
        }
    }
}

/// On first start (no roles yet), creates the administrator: with the password from
/// `OMENDB_ADMIN_PASSWORD`, or under SCRAM with a generated one that goes to
/// `<data-dir>/initial-admin-password` (mode 0600) or, without a data directory, to the log.
pub fn bootstrap(
    shared: &Shared,
    mode: AuthMode,
    user: &str,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if !shared.db.roles().is_empty() {
        return Ok(());
    }
    let given = std::env::var("OMENDB_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let (password, generated) = match given {
        Some(password) => (password, false),
        None if mode == AuthMode::Scram => (generate_password()?, true),
        None => return Ok(()),
    };
    shared.db.create_role(Role {
        name: user.to_owned(),
        login: true,
        superuser: true,
        verifier: Some(verifier_for(&password)?),
    })?;
    if !generated {
        tracing::info!(user, "created the first user from OMENDB_ADMIN_PASSWORD");
        return Ok(());
    }
    match data_dir.map(|dir| write_secret(&dir.join("initial-admin-password"), &password)) {
        Some(Ok(path)) => tracing::warn!(
            user,
            file = %path.display(),
            "created the first user with a generated password, written to the file \
             (set OMENDB_ADMIN_PASSWORD on first start to choose it)"
        ),
        _ => tracing::warn!(
            user,
            password,
            "created the first user with a generated password (set OMENDB_ADMIN_PASSWORD on \
             first start to choose it)"
        ),
    }
    Ok(())
}

fn generate_password() -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 18];
    omendb_engine::host::fill_random(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{secret}")?;
    Ok(path.to_path_buf())
}
