//! Starting and stopping the agent: identity, listeners, advertisement.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use muster_discovery::{Advertisement, Advertiser};
use muster_proto::{AgentInfo, ClusterState, PROTOCOL_VERSION, VERSION};
use tokio::task::JoinSet;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::socket::{self, SocketFile};
use crate::{signals, state, tls};

/// How long open requests get to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(5);

type UnixAddr = std::os::unix::net::SocketAddr;

/// A started agent. Tests run one in-process; `musterd` runs one until a
/// signal arrives ([`run`]).
pub struct Agent {
    info: Arc<AgentInfo>,
    https_addr: SocketAddr,
    socket: SocketFile,
    https: Handle<SocketAddr>,
    local: Handle<UnixAddr>,
    servers: JoinSet<(&'static str, io::Result<()>)>,
    advertiser: Option<Advertiser>,
}

impl Agent {
    /// Loads the identity, opens both listeners and, when discovery is
    /// enabled, starts advertising. Returns once all of that is done.
    pub async fn start(config: Config) -> anyhow::Result<Agent> {
        let name = config.server_name()?;
        state::prepare(&config.state_dir)?;
        let identity = muster_identity::load_or_create(&config.state_dir, name.as_str())?;
        tracing::info!(
            name = %name,
            fingerprint = %identity.short_fingerprint(),
            dir = %identity.dir().display(),
            "{} the server identity",
            if identity.was_created() { "created" } else { "loaded" }
        );

        let (unix_listener, socket) = socket::bind(&config.socket)?;
        let tcp_listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {} (see `listen`)", config.listen))?;
        tcp_listener
            .set_nonblocking(true)
            .context("cannot make the HTTPS listener non-blocking")?;
        let https_addr = tcp_listener.local_addr()?;
        let tls = tls::server_config(&identity, None).context("cannot set up TLS")?;

        let info = Arc::new(AgentInfo {
            name: name.to_string(),
            version: VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            state: ClusterState::Unclustered,
            fingerprint: identity.fingerprint(),
        });
        let api_state = ApiState {
            info: info.clone(),
            disks: Arc::new(config.disks.clone()),
        };

        let https = Handle::new();
        let local = Handle::new();
        let mut servers = JoinSet::new();
        let https_server =
            axum_server::from_tcp_rustls(tcp_listener, RustlsConfig::from_config(Arc::new(tls)))?
                .handle(https.clone());
        let member_api = api::member_router(api_state.clone());
        servers.spawn(async move {
            let served = https_server.serve(member_api.into_make_service()).await;
            ("HTTPS", served)
        });
        let local_server = axum_server::from_unix(unix_listener)?.handle(local.clone());
        let local_api = api::local_router(api_state);
        servers.spawn(async move {
            let served = local_server.serve(local_api.into_make_service()).await;
            ("unix socket", served)
        });
        tracing::info!(
            https = %https_addr,
            socket = %socket.path().display(),
            "listening"
        );

        let mut agent = Agent {
            info,
            https_addr,
            socket,
            https,
            local,
            servers,
            advertiser: None,
        };
        if config.discovery.enabled {
            let ad = Advertisement {
                name: name.to_string(),
                port: https_addr.port(),
                state: ClusterState::Unclustered,
                interfaces: config.discovery.interfaces.clone(),
            };
            match tokio::task::spawn_blocking(move || Advertiser::start(ad)).await {
                Ok(Ok(advertiser)) => agent.advertiser = Some(advertiser),
                Ok(Err(e)) => return Err(agent.abort_start(e.into()).await),
                Err(e) => return Err(agent.abort_start(e.into()).await),
            }
        } else {
            tracing::info!("discovery is disabled; not advertising over mDNS");
        }
        Ok(agent)
    }

    async fn abort_start(self, error: anyhow::Error) -> anyhow::Error {
        self.shutdown().await;
        error
    }

    pub fn info(&self) -> &AgentInfo {
        &self.info
    }

    pub fn fingerprint(&self) -> &str {
        &self.info.fingerprint
    }

    /// The bound HTTPS address (useful when `listen` asked for port 0).
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    pub fn socket_path(&self) -> &Path {
        self.socket.path()
    }

    /// Resolves only if a server stops by itself, which is a failure.
    pub async fn failed(&mut self) -> anyhow::Error {
        match self.servers.join_next().await {
            Some(Ok((what, Ok(())))) => anyhow!("the {what} server stopped unexpectedly"),
            Some(Ok((what, Err(e)))) => anyhow!(e).context(format!("the {what} server failed")),
            Some(Err(e)) => anyhow!("a server task ended abnormally: {e}"),
            None => std::future::pending().await,
        }
    }

    /// Withdraws the advertisement, lets open requests finish (bounded),
    /// closes the listeners and removes the socket file.
    pub async fn shutdown(mut self) {
        if let Some(advertiser) = self.advertiser.take() {
            match tokio::task::spawn_blocking(move || advertiser.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %ErrorChain(&e), "mDNS shutdown"),
                Err(e) => tracing::warn!(error = %e, "mDNS shutdown did not finish"),
            }
        }
        self.https.graceful_shutdown(Some(GRACE));
        self.local.graceful_shutdown(Some(GRACE));
        while let Some(ended) = self.servers.join_next().await {
            match ended {
                Ok((_, Ok(()))) => {}
                Ok((what, Err(e))) => tracing::warn!(error = %e, "the {what} server failed"),
                Err(e) => tracing::warn!(error = %e, "a server task ended abnormally"),
            }
        }
        // Dropping `self.socket` removes the socket file.
        tracing::info!("stopped");
    }
}

/// Runs the agent until SIGTERM or SIGINT, telling systemd when it is ready
/// and when it is stopping.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown_signal =
        signals::shutdown_signal().context("cannot install the signal handlers")?;
    let mut agent = Agent::start(config).await?;
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!(
            "serving on {} and {}",
            agent.https_addr(),
            agent.socket_path().display()
        )),
    ]);

    let outcome = tokio::select! {
        signal = shutdown_signal => {
            tracing::info!("received {signal}; shutting down");
            Ok(())
        }
        error = agent.failed() => Err(error),
    };
    notify(&[sd_notify::NotifyState::Stopping]);
    agent.shutdown().await;
    outcome
}

/// A no-op outside systemd (no NOTIFY_SOCKET).
fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Formats an error with its causes on one line, for log fields.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
