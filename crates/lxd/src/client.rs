use std::collections::BTreeMap;
use std::error::Error as _;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{LxdError, SocketAttempt};
use crate::join::{join_request, JoinInputs};
use crate::response::{parse_response, Response, ResponseKind};
use crate::token::JoinToken;
use crate::types::{
    cluster_unsettled, Cluster, ClusterMember, ClusterPut, Instance, InstancesPost,
    JoinTokenOperation, Network, NetworksPost, Operation, OperationStatus, Profile, ProfilePut,
    Server, StoragePool, StoragePoolsPost,
};

/// Debian's and Ubuntu's `lxd` package.
pub const DEB_SOCKET: &str = "/var/lib/lxd/unix.socket";
/// The LXD snap.
pub const SNAP_SOCKET: &str = "/var/snap/lxd/common/lxd/unix.socket";
/// Incus, as Debian packages it (and upstream's packages).
pub const INCUS_SOCKET: &str = "/var/lib/incus/unix.socket";

/// How long one request may take before it is given up.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a background operation (a join, a pool) to finish.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Over a unix socket the host part is never resolved; LXD ignores it.
const BASE_URL: &str = "http://lxd";
/// How long discovery gives each socket to answer `GET /1.0`. A socket
/// nobody listens on fails at once; one that accepts but is slow to answer
/// is usually the deb's `lxd.socket`, where systemd holds the connection
/// until the LXD it starts is ready: its first start (making its
/// database) took 8 s on a small VM.
const PROBE_TIMEOUT: Duration = DEFAULT_REQUEST_TIMEOUT;
/// LXD's operation wait takes a timeout in seconds; waiting in slices keeps
/// every single request short.
const WAIT_SLICE: Duration = Duration::from_secs(30);

/// Where [`LxdClient::discover`] looks, in order: `$LXD_DIR/unix.socket`
/// when `lxd_dir` is given, then Incus's, the LXD deb's and the LXD snap's
/// locations. A socket that does not exist fails at once, so a server with
/// one daemon installed finds it whichever it is.
pub fn default_socket_candidates(lxd_dir: Option<&OsStr>) -> Vec<PathBuf> {
    let mut out = Vec::with_capacity(4);
    if let Some(dir) = lxd_dir.filter(|d| !d.is_empty()) {
        out.push(Path::new(dir).join("unix.socket"));
    }
    out.push(PathBuf::from(INCUS_SOCKET));
    out.push(PathBuf::from(DEB_SOCKET));
    out.push(PathBuf::from(SNAP_SOCKET));
    out
}

/// An LXD client over LXD's unix socket.
#[derive(Debug, Clone)]
pub struct LxdClient {
    socket: PathBuf,
    http: reqwest::Client,
    request_timeout: Duration,
    operation_timeout: Duration,
}

/// A request as errors name it.
struct Label {
    method: Method,
    path: String,
}

impl LxdClient {
    /// A client for the socket at `socket`. Nothing is contacted yet.
    pub fn new(socket: impl Into<PathBuf>) -> Result<LxdClient, LxdError> {
        let socket = socket.into();
        // reqwest insists on a TLS setup even though only plain HTTP over the
        // socket is spoken; give it one with ring so that no process-wide
        // crypto provider has to be installed first.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| LxdError::Client {
            socket: socket.clone(),
            source: Box::new(e),
        })?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        // No idle connections: LXD 5.0 accepts on its socket one connection
        // at a time, waiting for each one's first bytes (to tell TLS from
        // plain HTTP). A pooled connection that never carried a request
        // (opened for one of several requests at once, then not needed)
        // stops every later connection, LXD's own during a join included,
        // until the pool drops it 90 s later: the join "stall".
        let http = reqwest::Client::builder()
            .unix_socket(socket.clone())
            .pool_max_idle_per_host(0)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| LxdError::Client {
                socket: socket.clone(),
                source: Box::new(e),
            })?;
        Ok(LxdClient {
            socket,
            http,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
        })
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> LxdClient {
        self.request_timeout = timeout;
        self
    }

    pub fn with_operation_timeout(mut self, timeout: Duration) -> LxdClient {
        self.operation_timeout = timeout;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Finds a working LXD: `$LXD_DIR/unix.socket`, then the deb, then the
    /// snap socket. The error lists every socket tried and why it failed.
    pub async fn discover() -> Result<LxdClient, LxdError> {
        let dir = std::env::var_os("LXD_DIR");
        LxdClient::discover_from(default_socket_candidates(dir.as_deref())).await
    }

    /// The first of `candidates` that answers `GET /1.0`.
    pub async fn discover_from(
        candidates: impl IntoIterator<Item = PathBuf>,
    ) -> Result<LxdClient, LxdError> {
        let mut tried = Vec::new();
        for path in candidates {
            if !path.exists() {
                tried.push(SocketAttempt {
                    path,
                    reason: "does not exist".to_owned(),
                });
                continue;
            }
            let client = LxdClient::new(path.clone())?;
            let probe = client.clone().with_request_timeout(PROBE_TIMEOUT);
            match probe.server().await {
                Ok(_) => return Ok(client),
                Err(e) => tried.push(SocketAttempt {
                    path,
                    reason: with_causes(&e),
                }),
            }
        }
        Err(LxdError::NoSocket { tried })
    }

    // ---- server ----

    /// `GET /1.0`: name, API extensions, config, certificate, addresses.
    pub async fn server(&self) -> Result<Server, LxdError> {
        self.get("/1.0", &[]).await
    }

    /// `PATCH /1.0`: sets the given server config keys, leaving others alone.
    pub async fn update_server_config(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<(), LxdError> {
        let body = serde_json::json!({ "config": config });
        self.act(Method::PATCH, "/1.0", &[], Some(body)).await?;
        Ok(())
    }

    /// Makes LXD listen for HTTPS (and, once clustered, cluster traffic) on
    /// `address` ("IP:PORT").
    pub async fn set_https_address(&self, address: &str) -> Result<(), LxdError> {
        let config = BTreeMap::from([("core.https_address".to_owned(), address.to_owned())]);
        self.update_server_config(&config).await
    }

    // ---- cluster ----

    /// `GET /1.0/cluster`: whether clustering is on, and (on a member) the
    /// member-specific keys a joiner has to fill in.
    pub async fn cluster(&self) -> Result<Cluster, LxdError> {
        self.get("/1.0/cluster", &[]).await
    }

    /// `PUT /1.0/cluster`, waiting for the operation it starts.
    pub async fn put_cluster(&self, request: &ClusterPut) -> Result<(), LxdError> {
        self.act(Method::PUT, "/1.0/cluster", &[], Some(to_json(request)))
            .await?;
        Ok(())
    }

    /// Turns this standalone server into the first member of a new cluster.
    /// Set an HTTPS address first: LXD uses it as the cluster address.
    pub async fn bootstrap_cluster(&self, server_name: &str) -> Result<(), LxdError> {
        self.put_cluster(&ClusterPut::bootstrap(server_name)).await
    }

    /// Joins this server to the cluster that issued `inputs.token`, choosing
    /// the request fields from this server's API extensions.
    pub async fn join_cluster(&self, inputs: JoinInputs<'_>) -> Result<(), LxdError> {
        let server = self.server().await?;
        let request = join_request(&server, inputs)?;
        self.put_cluster(&request).await
    }

    /// `POST /1.0/cluster/members`: a join token for a new member called
    /// `server_name`. The token lives as a running operation on this member
    /// until it is used, expires, or is revoked with
    /// [`LxdClient::cancel_operation`]. Asking again for the same name
    /// revokes the earlier token.
    pub async fn create_join_token(
        &self,
        server_name: &str,
    ) -> Result<JoinTokenOperation, LxdError> {
        const PATH: &str = "/1.0/cluster/members";
        let label = Label::new(Method::POST, PATH, &[]);
        let body = serde_json::json!({ "server_name": server_name });
        let response = self.send(&label, PATH, &[], Some(body)).await?;
        if response.kind != ResponseKind::Async {
            return Err(label.protocol("expected a token operation, got a sync answer"));
        }
        let operation: Operation = label.decode(response.metadata)?;
        let token = JoinToken::from_operation_metadata(&operation.metadata)?;
        Ok(JoinTokenOperation { operation, token })
    }

    /// A join token issued earlier for `server_name` and still usable (its
    /// operation running), from `GET /1.0/operations?recursion=1`.
    /// Reusing it spares LXD cancelling it for a new one.
    pub async fn pending_join_token(
        &self,
        server_name: &str,
    ) -> Result<Option<JoinTokenOperation>, LxdError> {
        let by_status: BTreeMap<String, Option<Vec<Operation>>> =
            self.get("/1.0/operations", &[("recursion", "1")]).await?;
        for operation in by_status.into_values().flatten().flatten() {
            if operation.class != "token" || operation.state() != OperationStatus::Running {
                continue;
            }
            let Ok(token) = JoinToken::from_operation_metadata(&operation.metadata) else {
                continue;
            };
            if token.server_name == server_name {
                return Ok(Some(JoinTokenOperation { operation, token }));
            }
        }
        Ok(None)
    }

    /// `GET /1.0/cluster/members?recursion=1`.
    pub async fn cluster_members(&self) -> Result<Vec<ClusterMember>, LxdError> {
        self.list("/1.0/cluster/members").await
    }

    /// Waits, at most `timeout`, until the cluster is at rest
    /// ([`cluster_unsettled`]); what still kept it from rest when the time
    /// was up, empty if it came to rest.
    pub async fn wait_settled(
        &self,
        except: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<String>, LxdError> {
        let deadline = Instant::now() + timeout;
        loop {
            let unsettled = cluster_unsettled(&self.cluster_members().await?, except);
            if unsettled.is_empty() || Instant::now() >= deadline {
                return Ok(unsettled);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `DELETE /1.0/cluster/members/NAME?force=1`: drops the record of a
    /// member whose server is not in the cluster (a join that failed half
    /// way, a reinstalled server).
    pub async fn force_remove_member(&self, name: &str) -> Result<(), LxdError> {
        self.remove_member(name, true).await
    }

    /// `DELETE /1.0/cluster/members/NAME`: without `force`, LXD also tells
    /// the member to leave (its LXD becomes standalone) and refuses while
    /// it has instances; with `force`, only the cluster's records of it go,
    /// for a member that is dead.
    pub async fn remove_member(&self, name: &str, force: bool) -> Result<(), LxdError> {
        let path = api_path(&["1.0", "cluster", "members", name]);
        let query: &[(&str, &str)] = if force { &[("force", "1")] } else { &[] };
        self.act(Method::DELETE, &path, query, None).await?;
        Ok(())
    }

    /// `POST /1.0/cluster/members/NAME/state` `{"action": "evacuate"}`:
    /// LXD moves the member's instances to the others (or stops those it
    /// cannot move, as each one's `cluster.evacuate` says).
    pub async fn evacuate_member(&self, name: &str) -> Result<(), LxdError> {
        self.member_state(name, "evacuate").await
    }

    /// `{"action": "restore"}`: the evacuated member takes its instances
    /// back and starts those that ran.
    pub async fn restore_member(&self, name: &str) -> Result<(), LxdError> {
        self.member_state(name, "restore").await
    }

    async fn member_state(&self, name: &str, action: &str) -> Result<(), LxdError> {
        let path = api_path(&["1.0", "cluster", "members", name, "state"]);
        let body = serde_json::json!({ "action": action });
        self.act(Method::POST, &path, &[], Some(body)).await?;
        Ok(())
    }

    // ---- operations ----

    /// `GET /1.0/operations/ID`.
    pub async fn operation(&self, id: &str) -> Result<Operation, LxdError> {
        self.get(&api_path(&["1.0", "operations", id]), &[]).await
    }

    /// `DELETE /1.0/operations/ID`: cancels an operation, e.g. revokes a join
    /// token.
    pub async fn cancel_operation(&self, id: &str) -> Result<(), LxdError> {
        let path = api_path(&["1.0", "operations", id]);
        self.act(Method::DELETE, &path, &[], None).await?;
        Ok(())
    }

    /// Waits for operation `id` to end. A failed or cancelled operation is an
    /// error carrying LXD's message.
    pub async fn wait_operation(&self, id: &str, timeout: Duration) -> Result<Operation, LxdError> {
        let label = Label {
            method: Method::GET,
            path: api_path(&["1.0", "operations", id, "wait"]),
        };
        self.wait(&label, id, timeout).await
    }

    // ---- storage pools ----

    /// `GET /1.0/storage-pools?recursion=1`.
    pub async fn storage_pools(&self) -> Result<Vec<StoragePool>, LxdError> {
        self.list("/1.0/storage-pools").await
    }

    /// One pool, as seen cluster-wide or (with `target`) with that member's
    /// config. None when it does not exist.
    pub async fn storage_pool(
        &self,
        name: &str,
        target: Option<&str>,
    ) -> Result<Option<StoragePool>, LxdError> {
        let path = api_path(&["1.0", "storage-pools", name]);
        not_found_as_none(self.get(&path, &target_query(target)).await)
    }

    /// `DELETE /1.0/storage-pools/NAME`: in a cluster, a pool only
    /// defined (pending) goes with every member's definition.
    pub async fn delete_storage_pool(&self, name: &str) -> Result<(), LxdError> {
        let path = api_path(&["1.0", "storage-pools", name]);
        self.act(Method::DELETE, &path, &[], None).await?;
        Ok(())
    }

    /// `POST /1.0/storage-pools`. In a cluster, call it with each member as
    /// `target` (member config such as `source`), then once without a
    /// target to create the pool everywhere. On a standalone server, once
    /// without a target.
    pub async fn create_storage_pool(
        &self,
        pool: &StoragePoolsPost,
        target: Option<&str>,
    ) -> Result<(), LxdError> {
        let query = target_query(target);
        self.act(
            Method::POST,
            "/1.0/storage-pools",
            &query,
            Some(to_json(pool)),
        )
        .await?;
        Ok(())
    }

    // ---- networks ----

    /// `GET /1.0/networks?recursion=1` (also lists unmanaged interfaces).
    pub async fn networks(&self) -> Result<Vec<Network>, LxdError> {
        self.list("/1.0/networks").await
    }

    /// One network; None when it does not exist.
    pub async fn network(
        &self,
        name: &str,
        target: Option<&str>,
    ) -> Result<Option<Network>, LxdError> {
        let path = api_path(&["1.0", "networks", name]);
        not_found_as_none(self.get(&path, &target_query(target)).await)
    }

    /// `POST /1.0/networks`, with the same per-member-then-create pattern
    /// as [`LxdClient::create_storage_pool`].
    pub async fn create_network(
        &self,
        network: &NetworksPost,
        target: Option<&str>,
    ) -> Result<(), LxdError> {
        let query = target_query(target);
        self.act(
            Method::POST,
            "/1.0/networks",
            &query,
            Some(to_json(network)),
        )
        .await?;
        Ok(())
    }

    // ---- profiles ----

    /// `GET /1.0/profiles/NAME`.
    pub async fn profile(&self, name: &str) -> Result<Profile, LxdError> {
        self.get(&api_path(&["1.0", "profiles", name]), &[]).await
    }

    /// `PUT /1.0/profiles/NAME`: replaces the profile's config and devices.
    pub async fn update_profile(&self, name: &str, profile: &ProfilePut) -> Result<(), LxdError> {
        let path = api_path(&["1.0", "profiles", name]);
        self.act(Method::PUT, &path, &[], Some(to_json(profile)))
            .await?;
        Ok(())
    }

    // ---- instances ----

    /// `POST /1.0/instances` (on member `target` when given), waiting until
    /// the instance exists. Nothing is started.
    pub async fn create_instance(
        &self,
        instance: &InstancesPost,
        target: Option<&str>,
    ) -> Result<(), LxdError> {
        let query = target_query(target);
        self.act(
            Method::POST,
            "/1.0/instances",
            &query,
            Some(to_json(instance)),
        )
        .await?;
        Ok(())
    }

    /// Every instance of every project, with where it is.
    pub async fn instances(&self) -> Result<Vec<Instance>, LxdError> {
        let items: Option<Vec<Instance>> = self
            .get(
                "/1.0/instances",
                &[("recursion", "1"), ("all-projects", "true")],
            )
            .await?;
        Ok(items.unwrap_or_default())
    }

    /// Names of the instances in the default project.
    pub async fn instance_names(&self) -> Result<Vec<String>, LxdError> {
        let urls: Vec<String> = self
            .get::<Option<_>>("/1.0/instances", &[])
            .await?
            .unwrap_or_default();
        Ok(urls
            .iter()
            .filter_map(|u| u.rsplit('/').next())
            .map(str::to_owned)
            .collect())
    }

    // ---- plumbing ----

    /// A sync `GET`, its metadata decoded as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, LxdError> {
        let label = Label::new(Method::GET, path, query);
        let response = self.send(&label, path, query, None).await?;
        label.decode(response.metadata)
    }

    /// A `GET ...?recursion=1` of a collection. Incus answers `null`, not
    /// `[]`, for an empty one.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, LxdError> {
        let items: Option<Vec<T>> = self.get(path, &[("recursion", "1")]).await?;
        Ok(items.unwrap_or_default())
    }

    /// A request that changes something: when LXD answers with an
    /// operation, wait for it and turn its failure into an error.
    async fn act(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<Option<Operation>, LxdError> {
        let label = Label::new(method, path, query);
        let response = self.send(&label, path, query, body).await?;
        if response.kind == ResponseKind::Sync {
            return Ok(None);
        }
        let id = response
            .operation_id()
            .ok_or_else(|| label.protocol("async answer without an operation id"))?;
        self.wait(&label, &id, self.operation_timeout)
            .await
            .map(Some)
    }

    async fn wait(
        &self,
        label: &Label,
        id: &str,
        timeout: Duration,
    ) -> Result<Operation, LxdError> {
        let start = Instant::now();
        let path = api_path(&["1.0", "operations", id, "wait"]);
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            // LXD's wait takes whole seconds; at least one so it blocks.
            let slice = left.min(WAIT_SLICE).as_secs().max(1).to_string();
            let query = [("timeout", slice.as_str())];
            let wait_label = Label::new(Method::GET, &path, &query);
            let response = self
                .send_with_timeout(
                    &wait_label,
                    &path,
                    &query,
                    None,
                    WAIT_SLICE + self.request_timeout,
                )
                .await?;
            let op: Operation = wait_label.decode(response.metadata)?;
            match op.state() {
                OperationStatus::Success => return Ok(op),
                OperationStatus::Failure | OperationStatus::Cancelled => {
                    let message = if !op.err.is_empty() {
                        op.err.clone()
                    } else if op.state() == OperationStatus::Cancelled {
                        "the operation was cancelled".to_owned()
                    } else {
                        "the operation failed without a message".to_owned()
                    };
                    return Err(LxdError::OperationFailed {
                        method: label.method.to_string(),
                        path: label.path.clone(),
                        operation: id.to_owned(),
                        status: op.status,
                        message,
                    });
                }
                OperationStatus::Running => {
                    if start.elapsed() >= timeout {
                        return Err(LxdError::OperationTimeout {
                            method: label.method.to_string(),
                            path: label.path.clone(),
                            operation: id.to_owned(),
                            status: op.status,
                            waited: timeout,
                        });
                    }
                }
            }
        }
    }

    async fn send(
        &self,
        label: &Label,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<Response, LxdError> {
        self.send_with_timeout(label, path, query, body, self.request_timeout)
            .await
    }

    async fn send_with_timeout(
        &self,
        label: &Label,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> Result<Response, LxdError> {
        let mut url = Url::parse(BASE_URL).expect("BASE_URL is a valid URL");
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(label.method.clone(), url)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let transport = |source| LxdError::Transport {
            socket: self.socket.clone(),
            method: label.method.to_string(),
            path: label.path.clone(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        parse_response(label.method.as_str(), &label.path, status, &bytes)
    }
}

impl Label {
    fn new(method: Method, path: &str, query: &[(&str, &str)]) -> Label {
        let mut shown = path.to_owned();
        for (i, (k, v)) in query.iter().enumerate() {
            shown.push(if i == 0 { '?' } else { '&' });
            shown.push_str(k);
            shown.push('=');
            shown.push_str(v);
        }
        Label {
            method,
            path: shown,
        }
    }

    fn protocol(&self, detail: impl Into<String>) -> LxdError {
        LxdError::Protocol {
            method: self.method.to_string(),
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn decode<T: DeserializeOwned>(&self, metadata: serde_json::Value) -> Result<T, LxdError> {
        serde_json::from_value(metadata)
            .map_err(|e| self.protocol(format!("metadata has an unexpected shape: {e}")))
    }
}

/// "/1.0/storage-pools/NAME" with each segment percent-encoded, so a name
/// can never reach another endpoint.
fn api_path(segments: &[&str]) -> String {
    let mut url = Url::parse(BASE_URL).expect("BASE_URL is a valid URL");
    url.path_segments_mut()
        .expect("an http URL has path segments")
        .clear()
        .extend(segments);
    url.path().to_owned()
}

fn target_query(target: Option<&str>) -> Vec<(&'static str, &str)> {
    target.map(|t| ("target", t)).into_iter().collect()
}

fn not_found_as_none<T>(result: Result<T, LxdError>) -> Result<Option<T>, LxdError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    // Request types are plain structs of strings and maps.
    serde_json::to_value(value).expect("request types always serialize")
}

/// An error and its causes on one line, for discovery's list of attempts.
fn with_causes(e: &LxdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_in_order() {
        assert_eq!(
            default_socket_candidates(Some(OsStr::new("/srv/lxd"))),
            [
                PathBuf::from("/srv/lxd/unix.socket"),
                PathBuf::from(INCUS_SOCKET),
                PathBuf::from(DEB_SOCKET),
                PathBuf::from(SNAP_SOCKET)
            ]
        );
        assert_eq!(
            default_socket_candidates(None),
            [
                PathBuf::from(INCUS_SOCKET),
                PathBuf::from(DEB_SOCKET),
                PathBuf::from(SNAP_SOCKET)
            ]
        );
        assert_eq!(default_socket_candidates(Some(OsStr::new(""))).len(), 3);
    }

    #[test]
    fn names_are_encoded_into_one_segment() {
        assert_eq!(
            api_path(&["1.0", "storage-pools", "local"]),
            "/1.0/storage-pools/local"
        );
        assert_eq!(
            api_path(&["1.0", "profiles", "../instances?x=1#y"]),
            "/1.0/profiles/..%2Finstances%3Fx=1%23y"
        );
    }

    #[test]
    fn labels_show_the_query() {
        let l = Label::new(Method::POST, "/1.0/networks", &[("target", "m2")]);
        assert_eq!(
            (l.method.as_str(), l.path.as_str()),
            ("POST", "/1.0/networks?target=m2")
        );
    }

    /// A stand-in for LXD's socket (a mock: what matters is only whether
    /// the client closes its connections), answering every request with an
    /// empty member list, then watching whether the client closes the
    /// connection (true) or keeps it open and idle (false).
    fn fake_lxd_socket(
        path: &Path,
    ) -> (
        Arc<std::sync::atomic::AtomicUsize>,
        Arc<std::sync::Mutex<Vec<bool>>>,
    ) {
        use std::io::{Read, Write};
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let closed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (a, c) = (accepted.clone(), closed.clone());
        std::thread::spawn(move || {
            // Bounded: the test makes three requests.
            for conn in listener.incoming().take(3) {
                let mut conn = conn.unwrap();
                a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut byte = [0u8; 1];
                    while !request.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        request.push(byte[0]);
                    }
                    let body =
                        r#"{"type":"sync","status":"Success","status_code":200,"metadata":[]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    conn.write_all(answer.as_bytes()).unwrap();
                    conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                    let gone = matches!(conn.read(&mut byte), Ok(0));
                    c.lock().unwrap().push(gone);
                });
            }
        });
        (accepted, closed)
    }

    #[tokio::test]
    async fn no_connection_is_left_idle_to_block_lxds_accept_loop() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("unix.socket");
        let (accepted, closed) = fake_lxd_socket(&socket);
        let lxd = LxdClient::new(&socket).unwrap();
        let (a, b, c) = tokio::join!(
            lxd.cluster_members(),
            lxd.cluster_members(),
            lxd.cluster_members()
        );
        for r in [a, b, c] {
            assert!(r.unwrap().is_empty());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n = accepted.load(std::sync::atomic::Ordering::SeqCst);
            let seen = closed.lock().unwrap().clone();
            if n > 0 && seen.len() == n {
                assert!(
                    seen.iter().all(|gone| *gone),
                    "the client kept {} of {n} connections open after its requests",
                    seen.iter().filter(|g| !**g).count()
                );
                break;
            }
            assert!(Instant::now() < deadline, "{n} connections, {seen:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn discovery_lists_what_it_tried() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope/unix.socket");
        // A socket file nobody listens on.
        let dead = dir.path().join("dead.socket");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        let err = LxdClient::discover_from([missing.clone(), dead.clone()])
            .await
            .unwrap_err();
        let LxdError::NoSocket { tried } = &err else {
            panic!("{err}")
        };
        assert_eq!(tried.len(), 2);
        assert_eq!(tried[0].reason, "does not exist");
        assert!(
            tried[1].reason.starts_with("cannot talk to LXD on"),
            "{}",
            tried[1].reason
        );
        let msg = err.to_string();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains(&dead.display().to_string()), "{msg}");
    }
}
