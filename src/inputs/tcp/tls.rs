//! TLS for the `tcp` and `syslog` inputs: [`TlsOptions`] (Logstash's `ssl_*` server options)
//! turned into a [`TlsAcceptor`] with native-tls (OpenSSL on Linux).
//!
//! Supported: `ssl_enabled`, `ssl_certificate` (PEM, may hold the chain), `ssl_key` (PKCS#8
//! PEM, unencrypted), `ssl_extra_chain_certs`, `ssl_supported_protocols` (`TLSv1.1`,
//! `TLSv1.2`, `TLSv1.3`; default TLS 1.2 and up), and `ssl_client_authentication => none`.
//!
//! Not supported, refused at build time with a message saying so: client certificates
//! (`ssl_client_authentication` `optional`/`required` with `ssl_certificate_authorities`) -
//! native-tls has no server-side API to request or verify them on any platform - and
//! `ssl_cipher_suites`, `ssl_key_passphrase` (encrypted keys), PKCS#1/SEC1 keys (convert with
//! `openssl pkcs8 -topk8 -nocrypt`).

use std::fs;

use serde::Deserialize;
use tokio_native_tls::TlsAcceptor;

use crate::config::{Diagnostics, PluginArgs};

/// Logstash's `ssl_client_authentication`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthentication {
    None,
    Optional,
    Required,
}

/// The `ssl_*` options as written (each input's options struct lists them, since serde cannot
/// flatten into a struct that rejects unknown keys).
#[derive(Debug, Default)]
pub struct TlsOptions {
    pub enabled: bool,
    pub certificate: Option<String>,
    pub key: Option<String>,
    pub key_passphrase: Option<String>,
    pub extra_chain_certs: Vec<String>,
    pub certificate_authorities: Vec<String>,
    pub client_authentication: Option<ClientAuthentication>,
    pub supported_protocols: Vec<String>,
    pub cipher_suites: Vec<String>,
}

impl TlsOptions {
    /// The names of the options set although `ssl_enabled` is false.
    fn unused(&self) -> Vec<&'static str> {
        let set = [
            ("ssl_certificate", self.certificate.is_some()),
            ("ssl_key", self.key.is_some()),
            ("ssl_key_passphrase", self.key_passphrase.is_some()),
            ("ssl_extra_chain_certs", !self.extra_chain_certs.is_empty()),
            (
                "ssl_certificate_authorities",
                !self.certificate_authorities.is_empty(),
            ),
            (
                "ssl_client_authentication",
                self.client_authentication.is_some(),
            ),
            (
                "ssl_supported_protocols",
                !self.supported_protocols.is_empty(),
            ),
            ("ssl_cipher_suites", !self.cipher_suites.is_empty()),
        ];
        set.iter().filter(|(_, s)| *s).map(|(n, _)| *n).collect()
    }
}

/// The acceptor for `options`, `None` when TLS is off. Reports every problem.
pub fn acceptor(
    args: &PluginArgs,
    options: &TlsOptions,
) -> Result<Option<TlsAcceptor>, Diagnostics> {
    let name = args.name();
    if !options.enabled {
        let unused = options.unused();
        if !unused.is_empty() {
            tracing::warn!("{name}: {unused:?} are not used while ssl_enabled is false");
        }
        return Ok(None);
    }
    let mut errors = Diagnostics::default();
    let mut error = |option: &str, message: String| {
        errors.extend(args.error(option, format!("{name}: {option}: {message}")));
    };
    check_unsupported(options, &mut error);
    let certificates = read_certificates(options, &mut error);
    let key = options
        .key
        .as_deref()
        .and_then(|path| read_key(path, &mut error));
    if options.key.is_none() {
        error("ssl_key", "required when ssl_enabled is true".into());
    }
    let (min, max) = protocol_range(&options.supported_protocols, &mut error);
    let (Some(certificates), Some(key)) = (certificates, key) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let identity = native_tls::Identity::from_pkcs8(&certificates, &key).map_err(|e| {
        args.error(
            "ssl_key",
            format!("{name}: ssl_certificate/ssl_key: not a usable certificate and key: {e}"),
        )
    })?;
    let acceptor = native_tls::TlsAcceptor::builder(identity)
        .min_protocol_version(min)
        .max_protocol_version(max)
        .build()
        .map_err(|e| args.error("ssl_enabled", format!("{name}: TLS setup failed: {e}")))?;
    Ok(Some(TlsAcceptor::from(acceptor)))
}

/// Refuses what native-tls cannot do, and Logstash's inconsistent combinations.
fn check_unsupported(options: &TlsOptions, error: &mut impl FnMut(&str, String)) {
    let auth = options.client_authentication;
    let cas = !options.certificate_authorities.is_empty();
    if matches!(auth, Some(a) if a != ClientAuthentication::None) && !cas {
        error(
            "ssl_client_authentication",
            "requires ssl_certificate_authorities".into(),
        );
    }
    // Logstash's default is `required`, effective once authorities are given.
    if cas && auth != Some(ClientAuthentication::None) {
        error(
            "ssl_certificate_authorities",
            "client certificates cannot be requested or verified (native-tls has no server-side \
             client authentication); set ssl_client_authentication => \"none\" to accept clients \
             without certificates, or terminate TLS in front of sluice"
                .into(),
        );
    }
    if !options.cipher_suites.is_empty() {
        error(
            "ssl_cipher_suites",
            "not supported (OpenSSL's default cipher list is used)".into(),
        );
    }
    if options.key_passphrase.is_some() {
        error(
            "ssl_key_passphrase",
            "encrypted keys are not supported; decrypt the key to unencrypted PKCS#8 \
             (openssl pkcs8 -topk8 -nocrypt)"
                .into(),
        );
    }
}

/// `ssl_certificate` followed by `ssl_extra_chain_certs`, as one PEM chain.
fn read_certificates(
    options: &TlsOptions,
    error: &mut impl FnMut(&str, String),
) -> Option<Vec<u8>> {
    let Some(path) = &options.certificate else {
        error(
            "ssl_certificate",
            "required when ssl_enabled is true".into(),
        );
        return None;
    };
    let mut chain = read(path, "ssl_certificate", error)?;
    for extra in &options.extra_chain_certs {
        chain.push(b'\n');
        chain.extend(read(extra, "ssl_extra_chain_certs", error)?);
    }
    Some(chain)
}

/// The PKCS#8 block of the key file.
fn read_key(path: &str, error: &mut impl FnMut(&str, String)) -> Option<Vec<u8>> {
    let pem = read(path, "ssl_key", error)?;
    let text = String::from_utf8_lossy(&pem);
    if let Some(start) = text.find("-----BEGIN PRIVATE KEY-----") {
        return Some(pem[start..].to_vec());
    }
    let problem = if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        "an encrypted key is not supported; decrypt it: openssl pkcs8 -topk8 -nocrypt -in KEY"
    } else if text.contains("BEGIN RSA PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY") {
        "a PKCS#1/SEC1 key is not supported; convert it to PKCS#8: openssl pkcs8 -topk8 -nocrypt \
         -in KEY"
    } else {
        "no \"-----BEGIN PRIVATE KEY-----\" (PKCS#8 PEM) block found"
    };
    error("ssl_key", format!("{path}: {problem}"));
    None
}

fn read(path: &str, option: &str, error: &mut impl FnMut(&str, String)) -> Option<Vec<u8>> {
    fs::read(path)
        .map_err(|e| error(option, format!("cannot read {path}: {e}")))
        .ok()
}

/// `ssl_supported_protocols` as native-tls's lowest and highest version (`None`: its default).
fn protocol_range(
    names: &[String],
    error: &mut impl FnMut(&str, String),
) -> (Option<native_tls::Protocol>, Option<native_tls::Protocol>) {
    use native_tls::Protocol;
    let mut versions = Vec::new();
    for name in names {
        match name.as_str() {
            "TLSv1.1" => versions.push((1, Protocol::Tlsv11)),
            "TLSv1.2" => versions.push((2, Protocol::Tlsv12)),
            "TLSv1.3" => versions.push((3, Protocol::Tlsv13)),
            other => error(
                "ssl_supported_protocols",
                format!("unknown protocol \"{other}\" (expected TLSv1.1, TLSv1.2 or TLSv1.3)"),
            ),
        }
    }
    let min = versions.iter().min_by_key(|v| v.0).map(|v| v.1);
    let max = versions.iter().max_by_key(|v| v.0).map(|v| v.1);
    match min {
        Some(min) => (Some(min), max),
        None => (Some(Protocol::Tlsv12), None),
    }
}
