//! Server-side TLS for the network inputs (`tcp`, `syslog`, `relp`, `forward`), on OpenSSL.
//!
//! [`TlsOptions`] (Logstash's `ssl_*` server options as written; the relp input maps its own
//! names onto them) becomes a [`TlsAcceptor`] at build time; the acceptor runs each
//! connection's handshake and hands back a [`TlsStream`], from which [`client_certificate`]
//! takes the client's verified certificate and [`subject_rfc2253`] / [`subject_oneline`] its
//! subject (the `tcp` input's `sslsubject`, the `relp` input's).
//!
//! What is supported:
//! - the certificate chain: `ssl_certificate` (PEM, may hold the chain) followed by
//!   `ssl_extra_chain_certs`;
//! - the key, `ssl_key`: PEM in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) form, encrypted ones
//!   (`ENCRYPTED PRIVATE KEY`, `Proc-Type: 4,ENCRYPTED`) with `ssl_key_passphrase`;
//! - client certificates: `ssl_client_authentication` `none`, `optional` (asked for; one that
//!   is sent must verify) or `required`, verified against `ssl_certificate_authorities` (PEM
//!   files, or directories whose files are read), optionally plus the system's CAs (relp, as
//!   Logstash's). Logstash's default is `required`; with no authorities given it would check
//!   clients against the JVM's trust store, so here the default is `required` when authorities
//!   are given and `none` otherwise. An intermediate CA alone is a trust anchor (as in Java);
//! - `ssl_supported_protocols`: `TLSv1.2`, `TLSv1.3` (default: both). `TLSv1.1` is ignored
//!   with a warning (OpenSSL 3 refuses it at its default security level, the JVM by default);
//! - `ssl_cipher_suites`: IANA names as Logstash takes them (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`,
//!   `TLS_AES_128_GCM_SHA256`) or OpenSSL's (`ECDHE-RSA-AES128-GCM-SHA256`). As in Java, only
//!   the listed suites are enabled: listing no TLS 1.3 suite turns TLS 1.3 off, and no TLS 1.2
//!   one turns TLS 1.2 off.
//!
//! Every problem is found at build time and reported as a [`TlsError`] naming its option:
//! unreadable files, files without PEM certificates or keys, an encrypted key without (or with
//! the wrong) passphrase, a key that does not match the certificate, client authentication
//! without authorities, unknown protocols or cipher suites.

use std::collections::HashSet;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    Ssl, SslAcceptor, SslContextBuilder, SslMethod, SslRef, SslVerifyMode, SslVersion,
};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509NameRef, X509VerifyResult, X509};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{Diagnostics, PluginArgs};

/// A TLS connection to a client.
pub type TlsStream<S> = tokio_openssl::SslStream<S>;

/// Logstash's `ssl_client_authentication`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthentication {
    None,
    Optional,
    Required,
}

/// What a TLS option is for, whatever an input calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsField {
    Enabled,
    Certificate,
    Key,
    KeyPassphrase,
    ExtraChainCerts,
    CertificateAuthorities,
    ClientAuthentication,
    SupportedProtocols,
    CipherSuites,
}

impl TlsField {
    /// The name Logstash's tcp and beats inputs give the option (`ssl_certificate`, ...).
    pub fn logstash_name(self) -> &'static str {
        match self {
            TlsField::Enabled => "ssl_enabled",
            TlsField::Certificate => "ssl_certificate",
            TlsField::Key => "ssl_key",
            TlsField::KeyPassphrase => "ssl_key_passphrase",
            TlsField::ExtraChainCerts => "ssl_extra_chain_certs",
            TlsField::CertificateAuthorities => "ssl_certificate_authorities",
            TlsField::ClientAuthentication => "ssl_client_authentication",
            TlsField::SupportedProtocols => "ssl_supported_protocols",
            TlsField::CipherSuites => "ssl_cipher_suites",
        }
    }
}

/// How an input names its TLS options (for error messages and their place in the config).
pub type OptionNames = fn(TlsField) -> &'static str;

/// The `ssl_*` options as written (each input's options struct lists them, since serde cannot
/// flatten into a struct that rejects unknown keys).
#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub enabled: bool,
    pub certificate: Option<String>,
    pub key: Option<String>,
    pub key_passphrase: Option<String>,
    pub extra_chain_certs: Vec<String>,
    pub certificate_authorities: Vec<String>,
    /// `None`: not written (`required` when authorities are given, else `none`).
    pub client_authentication: Option<ClientAuthentication>,
    pub supported_protocols: Vec<String>,
    pub cipher_suites: Vec<String>,
    /// Whether client certificates may also chain to the system's CAs (relp, as Logstash's).
    pub trust_system_authorities: bool,
    /// The input's names for the options.
    pub names: OptionNames,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            enabled: false,
            certificate: None,
            key: None,
            key_passphrase: None,
            extra_chain_certs: Vec::new(),
            certificate_authorities: Vec::new(),
            client_authentication: None,
            supported_protocols: Vec::new(),
            cipher_suites: Vec::new(),
            trust_system_authorities: false,
            names: TlsField::logstash_name,
        }
    }
}

impl TlsOptions {
    fn name(&self, field: TlsField) -> &'static str {
        (self.names)(field)
    }

    /// The names of the options set although TLS is off.
    pub fn unused(&self) -> Vec<&'static str> {
        let set = [
            (TlsField::Certificate, self.certificate.is_some()),
            (TlsField::Key, self.key.is_some()),
            (TlsField::KeyPassphrase, self.key_passphrase.is_some()),
            (
                TlsField::ExtraChainCerts,
                !self.extra_chain_certs.is_empty(),
            ),
            (
                TlsField::CertificateAuthorities,
                !self.certificate_authorities.is_empty(),
            ),
            (
                TlsField::ClientAuthentication,
                self.client_authentication.is_some(),
            ),
            (
                TlsField::SupportedProtocols,
                !self.supported_protocols.is_empty(),
            ),
            (TlsField::CipherSuites, !self.cipher_suites.is_empty()),
        ];
        set.iter()
            .filter(|(_, s)| *s)
            .map(|(f, _)| self.name(*f))
            .collect()
    }
}

/// A TLS option that cannot work, and why.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{option}: {message}")]
pub struct TlsError {
    /// The option's name as the input calls it.
    pub option: &'static str,
    pub message: String,
}

/// Why a client's handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS session setup failed: {0}")]
    Setup(ErrorStack),
    #[error("{0}")]
    Failed(openssl::ssl::Error),
    #[error("{error}; client certificate: {verify}")]
    Certificate {
        error: openssl::ssl::Error,
        verify: X509VerifyResult,
    },
    #[error("timed out")]
    TimedOut,
}

/// The server side of TLS, built from [`TlsOptions`]; cheap to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    acceptor: SslAcceptor,
    client_authentication: ClientAuthentication,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("client_authentication", &self.client_authentication)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// The acceptor for `options` (whether `enabled` is set is the caller's business), or every
    /// problem found.
    pub fn build(options: &TlsOptions) -> Result<TlsAcceptor, Vec<TlsError>> {
        let mut errors = Errors::new(options);
        let client_authentication = client_authentication(options, &mut errors);
        let chain = read_chain(options, &mut errors);
        let key = read_key(options, &mut errors);
        let authorities = if client_authentication == ClientAuthentication::None {
            Vec::new()
        } else {
            read_authorities(options, &mut errors)
        };
        let protocols = protocol_range(options, &mut errors);
        let ciphers = cipher_suites(options, &mut errors);
        let (Some(chain), Some(key), Some(protocols), Some(ciphers)) =
            (chain, key, protocols, ciphers)
        else {
            return Err(errors.list);
        };
        if !errors.list.is_empty() {
            return Err(errors.list);
        }
        let parts = Parts {
            chain,
            key,
            authorities,
            client_authentication,
            protocols,
            ciphers,
        };
        let acceptor = assemble(options, parts).map_err(|e| vec![e])?;
        Ok(TlsAcceptor {
            acceptor,
            client_authentication,
        })
    }

    /// Whether clients are asked for certificates (`optional` or `required`).
    pub fn verifies_clients(&self) -> bool {
        self.client_authentication != ClientAuthentication::None
    }

    pub fn client_authentication(&self) -> ClientAuthentication {
        self.client_authentication
    }

    /// Runs the server side of the handshake on `stream`.
    pub async fn accept<S>(&self, stream: S) -> Result<TlsStream<S>, HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let ssl = Ssl::new(self.acceptor.context()).map_err(HandshakeError::Setup)?;
        let mut tls = TlsStream::new(ssl, stream).map_err(HandshakeError::Setup)?;
        match Pin::new(&mut tls).accept().await {
            Ok(()) => Ok(tls),
            Err(error) => {
                let verify = tls.ssl().verify_result();
                Err(if verify == X509VerifyResult::OK {
                    HandshakeError::Failed(error)
                } else {
                    HandshakeError::Certificate { error, verify }
                })
            }
        }
    }

    /// [`TlsAcceptor::accept`] within `timeout`.
    pub async fn accept_within<S>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> Result<TlsStream<S>, HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tokio::time::timeout(timeout, self.accept(stream))
            .await
            .unwrap_or(Err(HandshakeError::TimedOut))
    }
}

/// The client's certificate, when it sent one (it was verified: the handshake succeeded).
pub fn client_certificate<S>(stream: &TlsStream<S>) -> Option<X509> {
    peer_certificate(stream.ssl())
}

fn peer_certificate(ssl: &SslRef) -> Option<X509> {
    (ssl.verify_result() == X509VerifyResult::OK)
        .then(|| ssl.peer_certificate())
        .flatten()
}

/// The acceptor for `options` as an input's build step wants it: `None` when TLS is off (with
/// a warning naming the `ssl_*` options set anyway), every problem as a diagnostic at its
/// option.
pub fn acceptor(
    args: &PluginArgs,
    options: &TlsOptions,
) -> Result<Option<TlsAcceptor>, Diagnostics> {
    if !options.enabled {
        let unused = options.unused();
        if !unused.is_empty() {
            tracing::warn!(
                "{}: {unused:?} are not used while {} is false",
                args.name(),
                options.name(TlsField::Enabled)
            );
        }
        return Ok(None);
    }
    TlsAcceptor::build(options)
        .map(Some)
        .map_err(|errors| diagnostics(args, &errors))
}

/// `errors` as diagnostics at their options, `PLUGIN: OPTION: message`.
pub fn diagnostics(args: &PluginArgs, errors: &[TlsError]) -> Diagnostics {
    let mut out = Diagnostics::default();
    for e in errors {
        out.extend(args.error(e.option, format!("{}: {e}", args.name())));
    }
    out
}

/// A certificate subject as Java's `X500Principal.getName()` writes it (RFC 2253: the most
/// specific part first, `CN=client,O=Example,C=US`), which Logstash's tcp input puts in
/// `sslsubject`. Attributes without an RFC 2253 keyword are named as OpenSSL names them.
pub fn subject_rfc2253(certificate: &X509) -> String {
    let mut out = String::new();
    let entries: Vec<_> = name_entries(certificate.subject_name()).collect();
    for (key, value) in entries.iter().rev() {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(rfc2253_keyword(key));
        out.push('=');
        escape_rfc2253(value, &mut out);
    }
    out
}

/// A certificate subject as OpenSSL's one-line form (`/C=US/O=Example/CN=client`), what Ruby's
/// `X509::Name#to_s` gives Logstash's relp input.
pub fn subject_oneline(certificate: &X509) -> String {
    let mut out = String::new();
    for (key, value) in name_entries(certificate.subject_name()) {
        out.push('/');
        out.push_str(key);
        out.push('=');
        out.push_str(&value);
    }
    out
}

/// A name's attributes in certificate order, as (OpenSSL short name, text).
fn name_entries(name: &X509NameRef) -> impl Iterator<Item = (&'static str, String)> + '_ {
    name.entries().map(|entry| {
        let nid = entry.object().nid();
        let key = nid.short_name().unwrap_or("UNDEF");
        let data = entry.data();
        let value = data
            .to_string()
            .unwrap_or_else(|_| String::from_utf8_lossy(data.as_slice()).into_owned());
        (key, value)
    })
}

/// RFC 2253's keywords (Java's names) for OpenSSL's short names; others keep OpenSSL's.
fn rfc2253_keyword(short: &'static str) -> &'static str {
    match short {
        "street" => "STREET",
        other => other,
    }
}

/// RFC 2253 section 2.4: `,+"\<>;` escaped, and a leading `#` or space, a trailing space.
fn escape_rfc2253(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Problems found so far, named the input's way.
struct Errors<'a> {
    options: &'a TlsOptions,
    list: Vec<TlsError>,
}

impl<'a> Errors<'a> {
    fn new(options: &'a TlsOptions) -> Errors<'a> {
        Errors {
            options,
            list: Vec::new(),
        }
    }

    fn add(&mut self, field: TlsField, message: impl Into<String>) {
        self.list.push(TlsError {
            option: self.options.name(field),
            message: message.into(),
        });
    }
}

/// What the acceptor is made of, each part read and checked.
struct Parts {
    chain: Vec<X509>,
    key: PKey<Private>,
    authorities: Vec<X509>,
    client_authentication: ClientAuthentication,
    protocols: (SslVersion, Option<SslVersion>),
    ciphers: Ciphers,
}

/// The effective `ssl_client_authentication`.
fn client_authentication(options: &TlsOptions, errors: &mut Errors) -> ClientAuthentication {
    let authorities = !options.certificate_authorities.is_empty();
    match options.client_authentication {
        Some(ClientAuthentication::None) => {
            if authorities {
                tracing::warn!(
                    "{} is not used while {} is \"none\"",
                    options.name(TlsField::CertificateAuthorities),
                    options.name(TlsField::ClientAuthentication)
                );
            }
            ClientAuthentication::None
        }
        Some(auth) => {
            if !authorities {
                let ca = options.name(TlsField::CertificateAuthorities);
                errors.add(
                    TlsField::ClientAuthentication,
                    format!(
                        "client certificates are verified against {ca}, which is not set (give \
                         the CA that signs the clients' certificates)"
                    ),
                );
            }
            auth
        }
        None if authorities => ClientAuthentication::Required,
        None => ClientAuthentication::None,
    }
}

/// The certificate followed by the extra chain certificates.
fn read_chain(options: &TlsOptions, errors: &mut Errors) -> Option<Vec<X509>> {
    let Some(path) = &options.certificate else {
        let enabled = options.name(TlsField::Enabled);
        errors.add(
            TlsField::Certificate,
            format!("required when {enabled} is true"),
        );
        return None;
    };
    let mut chain = read_certificates(path, TlsField::Certificate, errors);
    for extra in &options.extra_chain_certs {
        let more = read_certificates(extra, TlsField::ExtraChainCerts, errors);
        chain = chain.zip(more).map(|(mut c, m)| {
            c.extend(m);
            c
        });
    }
    chain
}

/// Every certificate in the PEM file at `path` (at least one).
fn read_certificates(path: &str, field: TlsField, errors: &mut Errors) -> Option<Vec<X509>> {
    let pem = read(path, field, errors)?;
    match X509::stack_from_pem(&pem) {
        Ok(certificates) if !certificates.is_empty() => Some(certificates),
        Ok(_) => {
            errors.add(
                field,
                format!("{path}: no PEM certificate (-----BEGIN CERTIFICATE-----) found"),
            );
            None
        }
        Err(e) => {
            errors.add(field, format!("{path}: not a valid PEM certificate: {e}"));
            None
        }
    }
}

/// The private key, decrypted with the passphrase when it is encrypted.
fn read_key(options: &TlsOptions, errors: &mut Errors) -> Option<PKey<Private>> {
    let Some(path) = &options.key else {
        let enabled = options.name(TlsField::Enabled);
        errors.add(TlsField::Key, format!("required when {enabled} is true"));
        return None;
    };
    let pem = read(path, TlsField::Key, errors)?;
    let encrypted = memchr::memmem::find(&pem, b"ENCRYPTED").is_some();
    let passphrase = options.key_passphrase.as_deref();
    match parse_key(&pem, passphrase) {
        Ok(key) => return Some(key),
        Err(e) if !encrypted => errors.add(
            TlsField::Key,
            format!(
                "{path}: no usable PEM private key (PKCS#8, PKCS#1 RSA or EC) found: {}",
                first_reason(&e)
            ),
        ),
        Err(_) if passphrase.is_none() => {
            let option = options.name(TlsField::KeyPassphrase);
            errors.add(TlsField::Key, format!("{path} is encrypted: set {option}"));
        }
        Err(e) => errors.add(
            TlsField::KeyPassphrase,
            format!(
                "cannot decrypt {path}: wrong passphrase? ({})",
                first_reason(&e)
            ),
        ),
    }
    None
}

/// A PEM private key in any form OpenSSL reads. The passphrase comes through a callback, so an
/// encrypted key without one fails instead of OpenSSL prompting on the terminal.
fn parse_key(pem: &[u8], passphrase: Option<&str>) -> Result<PKey<Private>, ErrorStack> {
    PKey::private_key_from_pem_callback(pem, |buf| {
        let pass = passphrase.unwrap_or("").as_bytes();
        if pass.len() > buf.len() {
            return Ok(0);
        }
        buf[..pass.len()].copy_from_slice(pass);
        Ok(pass.len())
    })
}

/// OpenSSL's first complaint, without the error stack's codes.
fn first_reason(e: &ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason())
        .map_or_else(|| e.to_string(), str::to_string)
}

/// The certificates of every `ssl_certificate_authorities` entry (a file, or a directory whose
/// files holding PEM certificates are read), without duplicates.
fn read_authorities(options: &TlsOptions, errors: &mut Errors) -> Vec<X509> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for path in &options.certificate_authorities {
        let found = if Path::new(path).is_dir() {
            read_authority_dir(path, errors)
        } else {
            read_certificates(path, TlsField::CertificateAuthorities, errors).unwrap_or_default()
        };
        for certificate in found {
            if let Ok(der) = certificate.to_der() {
                if seen.insert(der) {
                    out.push(certificate);
                }
            }
        }
    }
    out
}

fn read_authority_dir(path: &str, errors: &mut Errors) -> Vec<X509> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            errors.add(
                TlsField::CertificateAuthorities,
                format!("cannot read {path}: {e}"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file = entry.path();
        if !file.is_file() {
            continue;
        }
        // Other files (keys, hash links' targets read twice, READMEs) are skipped.
        if let Ok(certificates) = std::fs::read(&file).map(|pem| X509::stack_from_pem(&pem)) {
            out.extend(certificates.unwrap_or_default());
        }
    }
    if out.is_empty() {
        errors.add(
            TlsField::CertificateAuthorities,
            format!("{path}: no file in this directory holds a PEM certificate"),
        );
    }
    out
}

fn read(path: &str, field: TlsField, errors: &mut Errors) -> Option<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| errors.add(field, format!("cannot read {path}: {e}")))
        .ok()
}

/// `ssl_supported_protocols` as the lowest and highest version (`None`: OpenSSL's highest);
/// default TLS 1.2 and up.
fn protocol_range(
    options: &TlsOptions,
    errors: &mut Errors,
) -> Option<(SslVersion, Option<SslVersion>)> {
    let mut versions = Vec::new();
    let mut ok = true;
    for name in &options.supported_protocols {
        match name.as_str() {
            "TLSv1.2" => versions.push(2),
            "TLSv1.3" => versions.push(3),
            "TLSv1.1" => tracing::warn!(
                "{}: TLSv1.1 is ignored (OpenSSL refuses it at its default security level)",
                options.name(TlsField::SupportedProtocols)
            ),
            other => {
                ok = false;
                errors.add(
                    TlsField::SupportedProtocols,
                    format!("unknown protocol \"{other}\" (expected TLSv1.2 or TLSv1.3)"),
                );
            }
        }
    }
    if ok && versions.is_empty() && !options.supported_protocols.is_empty() {
        errors.add(
            TlsField::SupportedProtocols,
            "TLSv1.1 alone is not supported; list TLSv1.2 and/or TLSv1.3",
        );
        return None;
    }
    let version = |v| {
        if v == 3 {
            SslVersion::TLS1_3
        } else {
            SslVersion::TLS1_2
        }
    };
    let min = versions.iter().copied().min().unwrap_or(2);
    let max = versions.iter().copied().max().unwrap_or(3);
    ok.then(|| (version(min), (max == 2).then_some(SslVersion::TLS1_2)))
}

/// The cipher suites to enable, in OpenSSL's names; `None` lists: OpenSSL's defaults.
#[derive(Debug, Default)]
struct Ciphers {
    /// TLS 1.2 suites, for `SSL_CTX_set_cipher_list`.
    tls12: Option<Vec<String>>,
    /// TLS 1.3 suites, for `SSL_CTX_set_ciphersuites`.
    tls13: Option<Vec<String>>,
}

/// The TLS 1.3 suites (their IANA and OpenSSL names are the same).
const TLS13_SUITES: [&str; 5] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];

/// `ssl_cipher_suites` split by protocol, each name checked against OpenSSL.
fn cipher_suites(options: &TlsOptions, errors: &mut Errors) -> Option<Ciphers> {
    if options.cipher_suites.is_empty() {
        return Some(Ciphers::default());
    }
    let mut scratch = match SslContextBuilder::new(SslMethod::tls_server()) {
        Ok(b) => b,
        Err(e) => {
            errors.add(TlsField::Enabled, format!("TLS setup failed: {e}"));
            return None;
        }
    };
    let mut tls12 = Vec::new();
    let mut tls13 = Vec::new();
    let mut unknown = Vec::new();
    for name in &options.cipher_suites {
        if TLS13_SUITES.contains(&name.as_str()) {
            if scratch.set_ciphersuites(name).is_ok() {
                tls13.push(name.clone());
            } else {
                unknown.push(name.as_str());
            }
            continue;
        }
        match openssl_cipher_name(name) {
            Some(openssl) if scratch.set_cipher_list(&openssl).is_ok() => tls12.push(openssl),
            _ => unknown.push(name.as_str()),
        }
    }
    if !unknown.is_empty() {
        errors.add(
            TlsField::CipherSuites,
            format!(
                "unknown or unavailable cipher suites {unknown:?} (IANA names as \
                 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_AES_128_GCM_SHA256, or OpenSSL's)"
            ),
        );
        return None;
    }
    Some(Ciphers {
        tls12: Some(tls12),
        tls13: Some(tls13),
    })
}

/// OpenSSL's name for a TLS 1.2 suite named the IANA way (Java's old `SSL_` prefix too), or
/// the name itself when it is not an IANA name.
fn openssl_cipher_name(name: &str) -> Option<String> {
    let iana = match name.strip_prefix("SSL_") {
        Some(rest) => format!("TLS_{rest}"),
        None if name.starts_with("TLS_") => name.to_string(),
        None => return Some(name.to_string()),
    };
    let openssl = openssl::ssl::cipher_name(&iana);
    (openssl != "(NONE)").then(|| openssl.to_string())
}

/// Builds the acceptor from checked parts; what OpenSSL still refuses is reported at the
/// option it is about.
fn assemble(options: &TlsOptions, parts: Parts) -> Result<SslAcceptor, TlsError> {
    let error = |field: TlsField, message: String| TlsError {
        option: options.name(field),
        message,
    };
    let setup = |e: ErrorStack| error(TlsField::Enabled, format!("TLS setup failed: {e}"));
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(setup)?;
    let (min, mut max) = parts.protocols;
    let mut min = Some(min);
    if let Some(tls12) = &parts.ciphers.tls12 {
        if tls12.is_empty() {
            min = Some(SslVersion::TLS1_3);
        } else {
            builder.set_cipher_list(&tls12.join(":")).map_err(setup)?;
        }
    }
    if let Some(tls13) = &parts.ciphers.tls13 {
        if tls13.is_empty() {
            max = Some(SslVersion::TLS1_2);
        } else {
            builder.set_ciphersuites(&tls13.join(":")).map_err(setup)?;
        }
    }
    if min == Some(SslVersion::TLS1_3) && max == Some(SslVersion::TLS1_2) {
        return Err(error(
            TlsField::CipherSuites,
            format!(
                "no listed suite works with {}",
                options.name(TlsField::SupportedProtocols)
            ),
        ));
    }
    builder.set_min_proto_version(min).map_err(setup)?;
    builder.set_max_proto_version(max).map_err(setup)?;
    client_verification(&mut builder, options, &parts).map_err(setup)?;
    let mut chain = parts.chain.into_iter();
    if let Some(leaf) = chain.next() {
        builder.set_certificate(&leaf).map_err(|e| {
            error(
                TlsField::Certificate,
                format!("the certificate cannot be used: {}", first_reason(&e)),
            )
        })?;
    }
    for extra in chain {
        builder.add_extra_chain_cert(extra).map_err(setup)?;
    }
    // OpenSSL checks the key against the certificate in both calls.
    let mismatch = |e: ErrorStack| {
        error(
            TlsField::Key,
            format!(
                "the key does not belong to the certificate in {} ({})",
                options.name(TlsField::Certificate),
                first_reason(&e)
            ),
        )
    };
    builder.set_private_key(&parts.key).map_err(mismatch)?;
    builder.check_private_key().map_err(mismatch)?;
    Ok(builder.build())
}

/// Asks clients for certificates (`optional`: they may send none; one sent must verify) and
/// trusts the authorities.
fn client_verification(
    builder: &mut SslContextBuilder,
    options: &TlsOptions,
    parts: &Parts,
) -> Result<(), ErrorStack> {
    // Without a session id context, OpenSSL fails handshakes that resume a session once
    // client verification is on.
    builder.set_session_id_context(b"sluice")?;
    let mode = match parts.client_authentication {
        ClientAuthentication::None => {
            builder.set_verify(SslVerifyMode::NONE);
            return Ok(());
        }
        ClientAuthentication::Optional => SslVerifyMode::PEER,
        ClientAuthentication::Required => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
    };
    builder.set_verify(mode);
    if options.trust_system_authorities {
        builder.set_default_verify_paths()?;
    }
    for ca in &parts.authorities {
        builder.cert_store_mut().add_cert(ca.clone())?;
        // Tells clients which CAs are wanted (a client with several certificates picks).
        builder.add_client_ca(ca)?;
    }
    // An intermediate CA given alone is enough, as in Java's trust managers.
    builder
        .cert_store_mut()
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::rsa::Rsa;
    use openssl::symm::Cipher;
    use openssl::x509::X509NameBuilder;

    /// A self-signed certificate for `key`, subject `/C=US/O=Example, Inc./CN=server`.
    fn certificate(key: &PKey<Private>) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("C", "US").unwrap();
        name.append_entry_by_text("O", "Example, Inc.").unwrap();
        name.append_entry_by_text("CN", "server").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn write(&self, name: &str, contents: &[u8]) -> String {
            let path = self.dir.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path.display().to_string()
        }
    }

    fn options(cert: &str, key: &str) -> TlsOptions {
        TlsOptions {
            enabled: true,
            certificate: Some(cert.into()),
            key: Some(key.into()),
            ..TlsOptions::default()
        }
    }

    fn build_error(options: &TlsOptions) -> Vec<TlsError> {
        TlsAcceptor::build(options).expect_err("refused")
    }

    #[test]
    fn keys_in_every_pem_form() {
        let files = Files::new();
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let rsa_cert = files.write("rsa.crt", &certificate(&rsa).to_pem().unwrap());
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let ec_pem = ec.private_key_to_pem().unwrap();
        let ec = PKey::from_ec_key(ec).unwrap();
        let ec_cert = files.write("ec.crt", &certificate(&ec).to_pem().unwrap());
        let aes = Cipher::aes_256_cbc();
        let keys = [
            (&rsa_cert, rsa.private_key_to_pem_pkcs8().unwrap(), None),
            (
                &rsa_cert,
                rsa.rsa().unwrap().private_key_to_pem().unwrap(),
                None,
            ),
            (&ec_cert, ec_pem, None),
            (
                &rsa_cert,
                rsa.private_key_to_pem_pkcs8_passphrase(aes, b"s3cret")
                    .unwrap(),
                Some("s3cret"),
            ),
            (
                &rsa_cert,
                rsa.rsa()
                    .unwrap()
                    .private_key_to_pem_passphrase(aes, b"s3cret")
                    .unwrap(),
                Some("s3cret"),
            ),
        ];
        for (i, (cert, key, passphrase)) in keys.into_iter().enumerate() {
            let text = String::from_utf8_lossy(&key).into_owned();
            let key = files.write(&format!("key{i}.pem"), &key);
            let mut o = options(cert, &key);
            o.key_passphrase = passphrase.map(str::to_string);
            assert!(TlsAcceptor::build(&o).is_ok(), "{text}");
            if passphrase.is_some() {
                o.key_passphrase = Some("wrong".into());
                let e = build_error(&o);
                assert_eq!(e[0].option, "ssl_key_passphrase", "{e:?}");
                o.key_passphrase = None;
                let e = build_error(&o);
                assert!(e[0].message.contains("set ssl_key_passphrase"), "{e:?}");
            }
        }
    }

    #[test]
    fn build_time_errors_name_their_option() {
        let files = Files::new();
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = files.write("c.pem", &certificate(&key).to_pem().unwrap());
        let key_file = files.write("k.pem", &key.private_key_to_pem_pkcs8().unwrap());
        let other_key = files.write("o.pem", &other.private_key_to_pem_pkcs8().unwrap());
        let missing = files.dir.path().join("nope").display().to_string();
        let cases: Vec<(TlsOptions, &str, &str)> = vec![
            (
                options(&missing, &key_file),
                "ssl_certificate",
                "cannot read",
            ),
            (
                options(&key_file, &key_file),
                "ssl_certificate",
                "no PEM certificate",
            ),
            (
                options(&cert, &cert),
                "ssl_key",
                "no usable PEM private key",
            ),
            (options(&cert, &other_key), "ssl_key", "does not belong"),
            (
                TlsOptions {
                    client_authentication: Some(ClientAuthentication::Required),
                    ..options(&cert, &key_file)
                },
                "ssl_client_authentication",
                "ssl_certificate_authorities",
            ),
            (
                TlsOptions {
                    certificate_authorities: vec![key_file.clone()],
                    ..options(&cert, &key_file)
                },
                "ssl_certificate_authorities",
                "no PEM certificate",
            ),
            (
                TlsOptions {
                    supported_protocols: vec!["SSLv3".into()],
                    ..options(&cert, &key_file)
                },
                "ssl_supported_protocols",
                "unknown protocol",
            ),
            (
                TlsOptions {
                    cipher_suites: vec!["TLS_NOT_A_SUITE".into()],
                    ..options(&cert, &key_file)
                },
                "ssl_cipher_suites",
                "TLS_NOT_A_SUITE",
            ),
            (
                TlsOptions {
                    cipher_suites: vec!["TLS_AES_128_GCM_SHA256".into()],
                    supported_protocols: vec!["TLSv1.2".into()],
                    ..options(&cert, &key_file)
                },
                "ssl_cipher_suites",
                "no listed suite",
            ),
            (
                TlsOptions {
                    enabled: true,
                    ..TlsOptions::default()
                },
                "ssl_certificate",
                "required",
            ),
        ];
        for (o, option, text) in cases {
            let e = build_error(&o);
            assert!(
                e.iter()
                    .any(|e| e.option == option && e.message.contains(text)),
                "{o:?}: {e:?}"
            );
        }
    }

    #[test]
    fn authorities_from_files_and_directories() {
        let files = Files::new();
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = certificate(&key).to_pem().unwrap();
        let cert = files.write("c.pem", &pem);
        let key_file = files.write("k.pem", &key.private_key_to_pem_pkcs8().unwrap());
        let cas = tempfile::tempdir().unwrap();
        std::fs::write(cas.path().join("ca.crt"), &pem).unwrap();
        std::fs::write(cas.path().join("README"), b"not a certificate").unwrap();
        let o = TlsOptions {
            certificate_authorities: vec![cas.path().display().to_string(), cert.clone()],
            ..options(&cert, &key_file)
        };
        let acceptor = TlsAcceptor::build(&o).unwrap();
        assert_eq!(
            acceptor.client_authentication(),
            ClientAuthentication::Required,
            "required by default once authorities are given"
        );
        let o = TlsOptions {
            client_authentication: Some(ClientAuthentication::None),
            ..o
        };
        assert!(!TlsAcceptor::build(&o).unwrap().verifies_clients());
    }

    #[test]
    fn cipher_names_iana_java_and_openssl() {
        assert_eq!(
            openssl_cipher_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").as_deref(),
            Some("ECDHE-RSA-AES128-GCM-SHA256")
        );
        assert_eq!(
            openssl_cipher_name("SSL_RSA_WITH_AES_128_CBC_SHA").as_deref(),
            Some("AES128-SHA")
        );
        assert_eq!(
            openssl_cipher_name("ECDHE-RSA-AES256-GCM-SHA384").as_deref(),
            Some("ECDHE-RSA-AES256-GCM-SHA384")
        );
        assert_eq!(openssl_cipher_name("TLS_NOPE"), None);
    }

    #[test]
    fn subjects_in_java_and_openssl_forms() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = certificate(&key);
        assert_eq!(subject_rfc2253(&cert), "CN=server,O=Example\\, Inc.,C=US");
        assert_eq!(subject_oneline(&cert), "/C=US/O=Example, Inc./CN=server");
        let mut out = String::new();
        escape_rfc2253("#a+b ", &mut out);
        assert_eq!(out, "\\#a\\+b\\ ");
    }
}
