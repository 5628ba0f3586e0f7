//! Starting and stopping the agent: identity, trust store, listeners,
//! advertisement, and the background tasks (mDNS watch, enrollment).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context};
use axum_server::Handle;
use muster_discovery::{Advertisement, Advertiser};
use muster_proto::{AgentInfo, ClusterState, PROTOCOL_VERSION, VERSION};
use muster_trust::{Fingerprint, PeerIdentity};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::ErrorChain;
use crate::guess_budget::GuessBudget;
use crate::http::{self, CallerAcceptor, LocalAcceptor};
use crate::session::Sessions;
use crate::shared::Shared;
use crate::socket::{self, SocketFile};
use crate::trust::enroll;
use crate::trust_store::TrustStore;
use crate::{seen, signals, state, tls};

/// How long open requests get to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(5);

type UnixAddr = std::os::unix::net::SocketAddr;

/// A started agent. Tests run one in-process; `musterd` runs one until a
/// signal arrives ([`run`]).
pub struct Agent {
    shared: Arc<Shared>,
    https_addr: SocketAddr,
    socket: SocketFile,
    https: Handle<SocketAddr>,
    local: Handle<UnixAddr>,
    servers: JoinSet<(&'static str, io::Result<()>)>,
    /// Background tasks; they end when `stop` turns true.
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Agent {
    /// Loads the identity and trust store, opens both listeners and, when
    /// discovery is enabled, starts advertising and watching the LAN (and
    /// enrolling, when configured). Returns once all of that is done.
    pub async fn start(config: Config) -> anyhow::Result<Agent> {
        let name = config.server_name()?;
        let enrollment = enrollment(&config)?;
        state::prepare(&config.state_dir)?;
        let identity = muster_identity::load_or_create(&config.state_dir, name.as_str())?;
        tracing::info!(
            name = %name,
            fingerprint = %identity.short_fingerprint(),
            dir = %identity.dir().display(),
            "{} the server identity",
            if identity.was_created() { "created" } else { "loaded" }
        );
        let trust = TrustStore::load(&config.state_dir)?;
        for why in trust.left_out() {
            tracing::error!(
                path = %trust.path().display(),
                "trust store: {why}; the file as it was is kept beside it as trust.json.damaged"
            );
        }
        tracing::info!(
            members = trust.members().len(),
            path = %trust.path().display(),
            "loaded the trust store"
        );
        let pins = trust.pins().clone();
        // Enrolled or not, a server given an enrollment passphrase counts
        // every confirmation it sends, `muster join` included.
        let guesses = config.enrollment_passphrase_file.as_ref().map(|_| {
            let budget = GuessBudget::load(&config.state_dir);
            match budget.damage() {
                Some(damage) => tracing::error!(
                    "{damage}: no confirmation will be sent to any initiator; restore the file, \
                     or remove it to start a fresh budget"
                ),
                None => tracing::info!(
                    spent = budget.spent(),
                    path = %budget.path().display(),
                    "loaded the guess budget"
                ),
            }
            Mutex::new(budget)
        });

        let (unix_listener, socket) = socket::bind(&config.socket)?;
        let tcp_listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {} (see `listen`)", config.listen))?;
        tcp_listener
            .set_nonblocking(true)
            .context("cannot make the HTTPS listener non-blocking")?;
        let https_addr = tcp_listener.local_addr()?;
        let tls = tls::server_config(&identity, &pins).context("cannot set up TLS")?;

        let fingerprint = Fingerprint::parse(&identity.fingerprint())
            .context("the identity's fingerprint is malformed")?;
        let (stop, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let seen = if config.discovery.enabled {
            let (seen, task) = seen::start(config.discovery.interfaces.clone(), stop.subscribe())
                .context("cannot watch the LAN over mDNS")?;
            tasks.spawn(async move {
                let _ = task.await;
            });
            seen
        } else {
            seen::Seen::disabled()
        };
        let shared = Arc::new(Shared {
            info: AgentInfo {
                name: name.to_string(),
                version: VERSION.to_owned(),
                protocol: PROTOCOL_VERSION,
                state: ClusterState::Unclustered,
                fingerprint: identity.fingerprint(),
            },
            me: PeerIdentity {
                name: name.to_string(),
                fingerprint,
            },
            identity,
            https_port: https_addr.port(),
            disks: config.disks.clone(),
            trust: Mutex::new(trust),
            sessions: Sessions::default(),
            seen,
            advertiser: Mutex::new(None),
            joining: tokio::sync::Mutex::new(()),
            guesses,
            state_dir: config.state_dir.clone(),
            lxd: crate::lxd::LxdLocal::new(name.as_str(), config.lxd.socket.clone()),
            init_running: tokio::sync::Mutex::new(()),
            ceph: crate::ceph::CephLocal::new(name.as_str(), &config.ceph, &config.disks),
        });

        let https = Handle::new();
        let local = Handle::new();
        let mut servers = JoinSet::new();
        let https_server = http::hardened(
            axum_server::from_tcp(tcp_listener)?
                .acceptor(CallerAcceptor::new(tls))
                .handle(https.clone()),
        );
        let https_api = http::https_router(shared.clone());
        servers.spawn(async move {
            let served = https_server.serve(https_api.into_make_service()).await;
            ("HTTPS", served)
        });
        let local_server = http::hardened(
            axum_server::from_unix(unix_listener)?
                .acceptor(LocalAcceptor::new(socket.path()))
                .handle(local.clone()),
        );
        let local_api = http::local_router(shared.clone());
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
            shared,
            https_addr,
            socket,
            https,
            local,
            servers,
            tasks,
            stop,
        };
        if config.discovery.enabled {
            let ad = Advertisement {
                name: name.to_string(),
                port: https_addr.port(),
                state: ClusterState::Unclustered,
                session_open: false,
                interfaces: config.discovery.interfaces.clone(),
            };
            let advertiser = match tokio::task::spawn_blocking(move || Advertiser::start(ad)).await
            {
                Ok(Ok(advertiser)) => advertiser,
                Ok(Err(e)) => return Err(agent.abort_start(e.into()).await),
                Err(e) => return Err(agent.abort_start(e.into()).await),
            };
            *agent
                .shared
                .advertiser
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(advertiser);
        } else {
            tracing::info!("discovery is disabled; not advertising over mDNS");
        }
        let shared = agent.shared.clone();
        agent
            .tasks
            .spawn(async move { crate::ceph::record_old_osds(&shared.ceph).await });
        if let Some(enrollment) = enrollment {
            let task = enroll::run(agent.shared.clone(), enrollment, agent.stop.subscribe());
            agent.tasks.spawn(task);
        }
        Ok(agent)
    }

    async fn abort_start(self, error: anyhow::Error) -> anyhow::Error {
        self.shutdown().await;
        error
    }

    pub fn info(&self) -> &AgentInfo {
        &self.shared.info
    }

    pub fn fingerprint(&self) -> &str {
        &self.shared.info.fingerprint
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
        self.stop.send_replace(true);
        let advertiser = self
            .shared
            .advertiser
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(advertiser) = advertiser {
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
        if tokio::time::timeout(GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
            self.tasks.abort_all();
        }
        // Dropping `self.socket` removes the socket file.
        tracing::info!("stopped");
    }
}

/// Zero-touch enrollment as configured: the passphrase read and checked,
/// or `None` when there is none to use. A deleted file is how an operator
/// ends enrollment: it is not an error.
fn enrollment(config: &Config) -> anyhow::Result<Option<enroll::Enrollment>> {
    let Some(file) = &config.enrollment_passphrase_file else {
        if config.enrollment_initiator_fingerprint.is_some() {
            anyhow::bail!(
                "enrollment_initiator_fingerprint is set but enrollment_passphrase_file is not: \
                 set both for zero-touch enrollment, or remove the fingerprint"
            );
        }
        return Ok(None);
    };
    let passphrase = match enroll::read_passphrase(file) {
        Ok(passphrase) => passphrase,
        Err(e) if e.is_missing() => {
            tracing::warn!(
                file = %file.display(),
                "zero-touch enrollment is off: the enrollment passphrase file does not exist"
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if !config.discovery.enabled {
        anyhow::bail!(
            "enrollment_passphrase_file is set but [discovery] is disabled: zero-touch \
             enrollment finds initiators over mDNS; enable discovery or remove the key"
        );
    }
    Ok(Some(enroll::Enrollment {
        passphrase,
        file: file.clone(),
        only: config.enrollment_initiator_fingerprint.clone(),
    }))
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
