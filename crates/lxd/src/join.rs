//! Which fields a join request uses, decided from the joiner's
//! `api_extensions` (it is the joiner's LXD that reads `PUT /1.0/cluster`),
//! never from a version number or by trying.
//!
//! - `clustering_join`: the join API with `server_address` and
//!   `member_config` (LXD 3.x onwards; the older one is gone).
//! - `clustering_join_token`: join tokens from `POST /1.0/cluster/members`;
//!   before `explicit_trust_token` the whole base64 token is passed in
//!   `cluster_password` (LXD 4.x, 5.0). LXD 5.0 silently ignores a
//!   `cluster_token` field.
//! - `explicit_trust_token`: the token has its own field, `cluster_token`,
//!   and `cluster_password` is no longer read.
//! - Incus (`environment.server` is `incus`) forked before that extension
//!   and never lists it, yet reads only `cluster_token`: it has no password
//!   field at all.
//!
//! Every variant needs `cluster_certificate` (PEM of the cluster certificate,
//! from `GET /1.0` `environment.certificate` on a member) and
//! `cluster_address`.

use crate::token::{JoinToken, TokenError};
use crate::types::{ClusterPut, Daemon, MemberConfigKey, Server};

pub const EXT_CLUSTERING_JOIN: &str = "clustering_join";
pub const EXT_CLUSTERING_JOIN_TOKEN: &str = "clustering_join_token";
pub const EXT_EXPLICIT_TRUST_TOKEN: &str = "explicit_trust_token";

/// Where the join token goes in `PUT /1.0/cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// `cluster_password`: LXD with `clustering_join_token` but without
    /// `explicit_trust_token` (LXD 5.0).
    ClusterPassword,
    /// `cluster_token`: LXD with `explicit_trust_token`, and Incus.
    ClusterToken,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinPlanError {
    #[error(
        "this LXD cannot join a cluster with a token: it lacks the API extension {0:?} \
         (LXD 5.0 or newer is needed)"
    )]
    MissingExtension(&'static str),
    #[error(
        "the cluster certificate (fingerprint {actual}) is not the one the join token \
         names ({expected}); take it from GET /1.0 on a cluster member after bootstrap"
    )]
    CertificateMismatch { expected: String, actual: String },
    #[error("no address for this member to use for cluster traffic was given")]
    NoServerAddress,
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Picks the token field from the joining server's `GET /1.0`: its API
/// extensions, and which daemon it is.
pub fn token_field(joiner: &Server) -> Result<TokenField, JoinPlanError> {
    let has = |name: &str| joiner.has_extension(name);
    if has(EXT_EXPLICIT_TRUST_TOKEN) || joiner.daemon() == Daemon::Incus {
        return Ok(TokenField::ClusterToken);
    }
    if !has(EXT_CLUSTERING_JOIN) {
        return Err(JoinPlanError::MissingExtension(EXT_CLUSTERING_JOIN));
    }
    if !has(EXT_CLUSTERING_JOIN_TOKEN) {
        return Err(JoinPlanError::MissingExtension(EXT_CLUSTERING_JOIN_TOKEN));
    }
    Ok(TokenField::ClusterPassword)
}

/// What a joiner knows when it joins.
#[derive(Debug, Clone)]
pub struct JoinInputs<'a> {
    pub token: &'a JoinToken,
    /// PEM of the cluster certificate; must match the token's fingerprint.
    pub cluster_certificate: &'a str,
    /// This member's own address for cluster traffic, "IP:PORT".
    pub server_address: &'a str,
    /// Member-specific values for the keys `GET /1.0/cluster` on a member
    /// lists (storage pool sources and the like).
    pub member_config: Vec<MemberConfigKey>,
    /// Which of the token's addresses to contact; None takes the first.
    pub cluster_address: Option<&'a str>,
}

/// Builds the `PUT /1.0/cluster` body that joins the server whose
/// `GET /1.0` is `joiner`. The member name is the one the token was issued
/// for.
pub fn join_request(joiner: &Server, inputs: JoinInputs<'_>) -> Result<ClusterPut, JoinPlanError> {
    let field = token_field(joiner)?;
    let token = inputs.token;
    let actual = crate::token::certificate_fingerprint(inputs.cluster_certificate)?;
    if !actual.eq_ignore_ascii_case(&token.fingerprint) {
        return Err(JoinPlanError::CertificateMismatch {
            expected: token.fingerprint.clone(),
            actual,
        });
    }
    if inputs.server_address.trim().is_empty() {
        return Err(JoinPlanError::NoServerAddress);
    }
    let cluster_address = match inputs.cluster_address {
        Some(a) => a.to_owned(),
        None => token
            .addresses
            .iter()
            .find(|a| !a.is_empty())
            .cloned()
            .ok_or(TokenError::Missing("cluster address"))?,
    };
    let encoded = token.encode();
    let (cluster_password, cluster_token) = match field {
        TokenField::ClusterPassword => (Some(encoded), None),
        TokenField::ClusterToken => (None, Some(encoded)),
    };
    Ok(ClusterPut {
        server_name: token.server_name.clone(),
        enabled: true,
        cluster_address: Some(cluster_address),
        cluster_certificate: Some(inputs.cluster_certificate.to_owned()),
        server_address: Some(inputs.server_address.to_owned()),
        cluster_password,
        cluster_token,
        member_config: inputs.member_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::metadata;
    use crate::types::Cluster;

    fn server(name: &str) -> Server {
        serde_json::from_value(metadata(name)).unwrap()
    }

    fn token() -> JoinToken {
        let op = metadata("lxd-5.0.2-cluster-members-post-token.json");
        JoinToken::from_operation_metadata(&op["metadata"]).unwrap()
    }

    fn cluster_cert() -> String {
        server("lxd-5.0.2-server-bootstrapped.json")
            .environment
            .certificate
    }

    fn member_config() -> Vec<MemberConfigKey> {
        let c: Cluster =
            serde_json::from_value(metadata("lxd-5.0.2-cluster-bootstrapped.json")).unwrap();
        c.member_config
    }

    fn inputs<'a>(token: &'a JoinToken, cert: &'a str) -> JoinInputs<'a> {
        JoinInputs {
            token,
            cluster_certificate: cert,
            server_address: "10.231.251.2:8443",
            member_config: member_config(),
            cluster_address: None,
        }
    }

    #[test]
    fn lxd_5_0_puts_the_token_in_cluster_password() {
        let joiner = server("lxd-5.0.2-server-joiner.json");
        assert_eq!(token_field(&joiner).unwrap(), TokenField::ClusterPassword);
        let (t, cert) = (token(), cluster_cert());
        let put = join_request(&joiner, inputs(&t, &cert)).unwrap();
        let body = serde_json::to_value(&put).unwrap();
        assert_eq!(body["server_name"], "m2");
        assert_eq!(body["enabled"], true);
        assert_eq!(body["cluster_address"], "10.231.251.1:8443");
        assert_eq!(body["server_address"], "10.231.251.2:8443");
        assert_eq!(body["cluster_certificate"], cert.as_str());
        assert_eq!(
            JoinToken::decode(body["cluster_password"].as_str().unwrap()).unwrap(),
            t
        );
        assert!(body.get("cluster_token").is_none());
        assert_eq!(body["member_config"][0]["key"], "source");
        assert_eq!(body["member_config"][0]["entity"], "storage-pool");
    }

    #[test]
    fn newer_lxd_uses_cluster_token() {
        let joiner = server("lxd-6-server-hand-written.json");
        assert_eq!(token_field(&joiner).unwrap(), TokenField::ClusterToken);
        let (t, cert) = (token(), cluster_cert());
        let mut i = inputs(&t, &cert);
        i.cluster_address = Some("10.231.251.9:8443");
        let body = serde_json::to_value(join_request(&joiner, i).unwrap()).unwrap();
        assert_eq!(
            JoinToken::decode(body["cluster_token"].as_str().unwrap()).unwrap(),
            t
        );
        assert!(body.get("cluster_password").is_none());
        assert_eq!(body["cluster_address"], "10.231.251.9:8443");
        assert_eq!(body["cluster_certificate"], cert.as_str());
    }

    #[test]
    fn incus_uses_cluster_token_without_the_extension() {
        let joiner = server("incus-6.0.4-server-standalone.json");
        assert_eq!(joiner.daemon(), Daemon::Incus);
        assert!(!joiner.has_extension(EXT_EXPLICIT_TRUST_TOKEN));
        assert_eq!(token_field(&joiner).unwrap(), TokenField::ClusterToken);
        let (t, cert) = (token(), cluster_cert());
        let body = serde_json::to_value(join_request(&joiner, inputs(&t, &cert)).unwrap()).unwrap();
        assert!(body["cluster_token"].is_string());
        assert!(body.get("cluster_password").is_none());
    }

    #[test]
    fn lxd_without_join_extensions_is_refused() {
        let ext = |names: &[&str]| Server {
            api_extensions: names.iter().map(|s| s.to_string()).collect(),
            ..Server::default()
        };
        assert_eq!(
            token_field(&ext(&["clustering"])).unwrap_err(),
            JoinPlanError::MissingExtension("clustering_join")
        );
        assert_eq!(
            token_field(&ext(&["clustering", "clustering_join"])).unwrap_err(),
            JoinPlanError::MissingExtension("clustering_join_token")
        );
        assert_eq!(
            token_field(&ext(&["explicit_trust_token"])).unwrap(),
            TokenField::ClusterToken
        );
    }

    #[test]
    fn wrong_certificate_is_refused_before_asking_lxd() {
        let joiner = server("lxd-5.0.2-server-joiner.json");
        // The bootstrap server's certificate from before it was clustered.
        let old = server("lxd-5.0.2-server-standalone.json")
            .environment
            .certificate;
        let t = token();
        let err = join_request(&joiner, inputs(&t, &old)).unwrap_err();
        assert!(
            matches!(err, JoinPlanError::CertificateMismatch { .. }),
            "{err}"
        );
        let err = join_request(&joiner, inputs(&t, "junk")).unwrap_err();
        assert!(matches!(
            err,
            JoinPlanError::Token(TokenError::Certificate(_))
        ));
    }

    #[test]
    fn server_address_is_required() {
        let joiner = server("lxd-5.0.2-server-joiner.json");
        let (t, cert) = (token(), cluster_cert());
        let mut i = inputs(&t, &cert);
        i.server_address = " ";
        assert_eq!(
            join_request(&joiner, i).unwrap_err(),
            JoinPlanError::NoServerAddress
        );
    }
}
