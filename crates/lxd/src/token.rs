//! LXD's cluster join token: base64 (standard alphabet) of a JSON object
//! `{server_name, fingerprint, addresses, secret, expires_at}`, as printed by
//! `lxc cluster add`. LXD hands out its parts as the metadata of the token
//! operation that `POST /1.0/cluster/members` creates.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Tokens are a few hundred bytes; anything far larger is not a token and is
/// refused before decoding.
const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the join token is empty")]
    Empty,
    #[error("the join token is too long ({0} characters) to be an LXD join token")]
    TooLong(usize),
    #[error("the join token is not valid base64: {0}")]
    Base64(String),
    #[error("the join token does not hold the expected JSON: {0}")]
    Json(String),
    #[error("the join token has no {0}")]
    Missing(&'static str),
    #[error("the join token's fingerprint {0:?} is not a SHA-256 hex digest")]
    BadFingerprint(String),
    #[error("LXD's token operation metadata is not a join token: {0}")]
    Metadata(String),
    #[error("the cluster certificate is not a PEM certificate: {0}")]
    Certificate(String),
}

/// The parts of a join token. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    /// The name the joining member must use.
    #[serde(alias = "serverName")]
    pub server_name: String,
    /// SHA-256 (lowercase hex) of the cluster certificate.
    pub fingerprint: String,
    /// Cluster addresses (host:port) of the member that issued the token.
    pub addresses: Vec<String>,
    pub secret: String,
    /// RFC 3339 time; LXD writes "0001-01-01T00:00:00Z" for "never".
    #[serde(default, alias = "expiresAt")]
    pub expires_at: String,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("server_name", &self.server_name)
            .field("fingerprint", &self.fingerprint)
            .field("addresses", &self.addresses)
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl JoinToken {
    /// Decodes a token string as `lxc cluster add` prints it. Surrounding
    /// white space is ignored (tokens get pasted).
    pub fn decode(token: &str) -> Result<JoinToken, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong(token.len()));
        }
        // LXD encodes with the standard padded alphabet; the others are
        // accepted because copy and paste through other tools rewrites them.
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(token).ok())
            .ok_or_else(|| {
                TokenError::Base64(
                    STANDARD
                        .decode(token)
                        .err()
                        .map_or_else(String::new, |e| e.to_string()),
                )
            })?;
        let parsed: JoinToken =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Json(e.to_string()))?;
        parsed.validate()?;
        Ok(parsed)
    }

    /// The token string, as LXD would print it.
    pub fn encode(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            server_name: &'a str,
            fingerprint: &'a str,
            addresses: &'a [String],
            secret: &'a str,
            expires_at: &'a str,
        }
        let json = serde_json::to_vec(&Wire {
            server_name: &self.server_name,
            fingerprint: &self.fingerprint,
            addresses: &self.addresses,
            secret: &self.secret,
            expires_at: &self.expires_at,
        })
        .expect("serializing strings to JSON cannot fail");
        STANDARD.encode(json)
    }

    /// Builds the token from the metadata of the operation that
    /// `POST /1.0/cluster/members` returns (camelCase keys on LXD 5.0).
    pub fn from_operation_metadata(metadata: &serde_json::Value) -> Result<JoinToken, TokenError> {
        let parsed: JoinToken = serde_json::from_value(metadata.clone())
            .map_err(|e| TokenError::Metadata(e.to_string()))?;
        parsed.validate()?;
        Ok(parsed)
    }

    fn validate(&self) -> Result<(), TokenError> {
        if self.server_name.is_empty() {
            return Err(TokenError::Missing("server name"));
        }
        if self.secret.is_empty() {
            return Err(TokenError::Missing("secret"));
        }
        if self.addresses.iter().all(|a| a.is_empty()) {
            return Err(TokenError::Missing("cluster address"));
        }
        if self.fingerprint.len() != 64 || !self.fingerprint.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(TokenError::BadFingerprint(self.fingerprint.clone()));
        }
        Ok(())
    }

    /// Whether `pem` is the certificate the token vouches for: joining with
    /// any other certificate would either fail inside LXD with a TLS error
    /// or trust the wrong cluster.
    pub fn matches_certificate(&self, pem: &str) -> Result<bool, TokenError> {
        Ok(certificate_fingerprint(pem)?.eq_ignore_ascii_case(&self.fingerprint))
    }
}

/// SHA-256 (lowercase hex) of the DER of the first certificate in `pem`, the
/// fingerprint LXD shows and puts in join tokens.
pub fn certificate_fingerprint(pem: &str) -> Result<String, TokenError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| TokenError::Certificate(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(der.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::json as fixture;

    fn recorded() -> JoinToken {
        let op = fixture("lxd-5.0.2-cluster-members-post-token.json");
        JoinToken::from_operation_metadata(&op["metadata"]["metadata"]).unwrap()
    }

    #[test]
    fn token_from_recorded_operation() {
        let t = recorded();
        assert_eq!(t.server_name, "m2");
        assert_eq!(t.addresses, ["10.231.251.1:8443"]);
        assert_eq!(
            t.fingerprint,
            "f41dfa074f530b343f29f851fc20cb42c86d43d8ddcd5b363dae70208820b7b2"
        );
        assert_eq!(t.expires_at, "2026-11-25T04:23:07.261571018Z");
        assert!(!format!("{t:?}").contains(&t.secret));
    }

    #[test]
    fn encode_matches_lxd_layout_and_round_trips() {
        let t = recorded();
        let s = t.encode();
        let json: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(&s).unwrap()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "addresses",
                "expires_at",
                "fingerprint",
                "secret",
                "server_name"
            ]
        );
        assert_eq!(JoinToken::decode(&s).unwrap(), t);
        assert_eq!(JoinToken::decode(&format!("  {s}\n")).unwrap(), t);
    }

    #[test]
    fn decodes_a_token_as_lxc_prints_it() {
        // Built like `lxc cluster add` does: base64.StdEncoding of the JSON.
        let json = r#"{"server_name":"m2","fingerprint":"f41dfa074f530b343f29f851fc20cb42c86d43d8ddcd5b363dae70208820b7b2","addresses":["10.231.251.1:8443"],"secret":"a317","expires_at":"2026-11-25T04:23:07.261571018Z"}"#;
        let t = JoinToken::decode(&STANDARD.encode(json)).unwrap();
        assert_eq!(t.secret, "a317");
        let no_pad = URL_SAFE_NO_PAD.encode(json);
        assert_eq!(JoinToken::decode(&no_pad).unwrap(), t);
    }

    #[test]
    fn token_without_expiry_is_accepted() {
        let json = r#"{"server_name":"m2","fingerprint":"f41dfa074f530b343f29f851fc20cb42c86d43d8ddcd5b363dae70208820b7b2","addresses":["a:1"],"secret":"s"}"#;
        assert_eq!(
            JoinToken::decode(&STANDARD.encode(json))
                .unwrap()
                .expires_at,
            ""
        );
    }

    #[test]
    fn bad_tokens_are_errors_not_panics() {
        let enc = |s: &str| STANDARD.encode(s);
        let fp = "f41dfa074f530b343f29f851fc20cb42c86d43d8ddcd5b363dae70208820b7b2";
        let cases = [
            (String::new(), TokenError::Empty),
            ("   ".to_owned(), TokenError::Empty),
            (
                "x".repeat(MAX_TOKEN_LEN + 1),
                TokenError::TooLong(MAX_TOKEN_LEN + 1),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(JoinToken::decode(&input).unwrap_err(), want);
        }
        assert!(matches!(
            JoinToken::decode("!!!not base64!!!").unwrap_err(),
            TokenError::Base64(_)
        ));
        assert!(matches!(
            JoinToken::decode(&enc("[1,2]")).unwrap_err(),
            TokenError::Json(_)
        ));
        let no_secret = format!(
            r#"{{"server_name":"m2","fingerprint":"{fp}","addresses":["a:1"],"secret":""}}"#
        );
        assert_eq!(
            JoinToken::decode(&enc(&no_secret)).unwrap_err(),
            TokenError::Missing("secret")
        );
        let no_addr =
            format!(r#"{{"server_name":"m2","fingerprint":"{fp}","addresses":[],"secret":"s"}}"#);
        assert_eq!(
            JoinToken::decode(&enc(&no_addr)).unwrap_err(),
            TokenError::Missing("cluster address")
        );
        let short_fp =
            r#"{"server_name":"m2","fingerprint":"abc","addresses":["a:1"],"secret":"s"}"#;
        assert!(matches!(
            JoinToken::decode(&enc(short_fp)).unwrap_err(),
            TokenError::BadFingerprint(_)
        ));
        let bad_meta = serde_json::json!({"serverName": 3});
        assert!(matches!(
            JoinToken::from_operation_metadata(&bad_meta).unwrap_err(),
            TokenError::Metadata(_)
        ));
    }

    #[test]
    fn certificate_fingerprint_matches_lxd() {
        let server = fixture("lxd-5.0.2-server-bootstrapped.json");
        let env = &server["metadata"]["environment"];
        let pem = env["certificate"].as_str().unwrap();
        assert_eq!(
            certificate_fingerprint(pem).unwrap(),
            env["certificate_fingerprint"].as_str().unwrap()
        );
        assert!(recorded().matches_certificate(pem).unwrap());

        // Before bootstrap LXD shows its own server certificate; the cluster
        // certificate made at bootstrap is a different one.
        let standalone = fixture("lxd-5.0.2-server-standalone.json");
        let old_pem = standalone["metadata"]["environment"]["certificate"]
            .as_str()
            .unwrap();
        assert!(!recorded().matches_certificate(old_pem).unwrap());
        assert!(matches!(
            certificate_fingerprint("not a pem").unwrap_err(),
            TokenError::Certificate(_)
        ));
    }
}
