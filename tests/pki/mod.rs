//! Certificates for the TLS tests of the network inputs, made with rcgen at test time and
//! written to a temp dir ([`Pki`]): a CA, a server certificate for `localhost` signed by it
//! (its key also encrypted with [`PASSPHRASE`]), a client certificate signed by the CA, and a
//! "stranger": a client certificate from another CA. Plus OpenSSL clients presenting any of
//! them ([`Pki::connector`]), blocking or async, and [`refused`] to tell a connection the
//! server turned away.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::pin::Pin;
use std::time::Duration;

use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::symm::Cipher;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The passphrase of `server-encrypted.key`.
pub const PASSPHRASE: &str = "s3cret phrase";
/// The subject of `client.crt` (RFC 2253 / OpenSSL one-line forms).
pub const CLIENT_SUBJECT_RFC2253: &str = "CN=good client,O=Sluice Tests";
pub const CLIENT_SUBJECT_ONELINE: &str = "/O=Sluice Tests/CN=good client";

/// Who a test client claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// No client certificate.
    Anonymous,
    /// `client.crt`, signed by the CA the server trusts.
    Client,
    /// `stranger.crt`, signed by another CA.
    Stranger,
}

pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki { dir };
        let (ca, ca_key) = authority("Sluice Test CA");
        let (stranger_ca, stranger_key) = authority("Stranger CA");
        pki.write("ca.crt", &ca.pem());
        pki.write("stranger-ca.crt", &stranger_ca.pem());
        let server_key = leaf(&pki, "server", "localhost", &ca, &ca_key, true);
        leaf(&pki, "client", "good client", &ca, &ca_key, false);
        leaf(
            &pki,
            "stranger",
            "stranger",
            &stranger_ca,
            &stranger_key,
            false,
        );
        let key = PKey::private_key_from_pem(server_key.serialize_pem().as_bytes()).unwrap();
        let encrypted = key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), PASSPHRASE.as_bytes())
            .unwrap();
        pki.write(
            "server-encrypted.key",
            &String::from_utf8(encrypted).unwrap(),
        );
        pki
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// The `tcp`-style server options: TLS with the server certificate, plus `extra`.
    pub fn server_options(&self, extra: &str) -> String {
        format!(
            "ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\" {extra}",
            self.path("server.crt"),
            self.path("server.key")
        )
    }

    /// A client trusting the CA and presenting `who`'s certificate; TLS 1.2 only when
    /// `tls12` (the server's verdict on the certificate then comes within the handshake).
    pub fn connector(&self, who: Identity, tls12: bool) -> SslConnector {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(self.path("ca.crt")).unwrap();
        let name = match who {
            Identity::Anonymous => None,
            Identity::Client => Some("client"),
            Identity::Stranger => Some("stranger"),
        };
        if let Some(name) = name {
            b.set_certificate_chain_file(self.path(&format!("{name}.crt")))
                .unwrap();
            b.set_private_key_file(
                self.path(&format!("{name}.key")),
                openssl::ssl::SslFiletype::PEM,
            )
            .unwrap();
        }
        if tls12 {
            b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        }
        b.build()
    }

    /// A blocking TLS connection to `127.0.0.1:port` as `who`; `Err` when the handshake fails.
    pub fn connect(
        &self,
        port: u16,
        who: Identity,
        tls12: bool,
    ) -> Result<openssl::ssl::SslStream<std::net::TcpStream>, String> {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        self.connector(who, tls12)
            .connect("localhost", tcp)
            .map_err(|e| e.to_string())
    }

    /// An async TLS connection as `who`; `Err` when the handshake fails.
    pub async fn connect_async(
        &self,
        addr: std::net::SocketAddr,
        who: Identity,
        tls12: bool,
    ) -> Result<tokio_openssl::SslStream<tokio::net::TcpStream>, String> {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let ssl = self
            .connector(who, tls12)
            .configure()
            .unwrap()
            .into_ssl("localhost")
            .unwrap();
        let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
        Pin::new(&mut tls)
            .connect()
            .await
            .map(|()| tls)
            .map_err(|e| e.to_string())
    }
}

/// A self-signed CA certificate and its key.
fn authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (params.self_signed(&key).unwrap(), key)
}

/// A certificate for `cn` signed by `ca`, written as `NAME.crt` and `NAME.key`.
fn leaf(
    pki: &Pki,
    name: &str,
    cn: &str,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
    server: bool,
) -> KeyPair {
    let key = KeyPair::generate().unwrap();
    let names = if server {
        vec!["localhost".to_string()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).unwrap();
    // Without rcgen's placeholder CN, whose place would come first.
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Sluice Tests");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = params.signed_by(&key, ca, ca_key).unwrap();
    pki.write(&format!("{name}.crt"), &cert.pem());
    pki.write(&format!("{name}.key"), &key.serialize_pem());
    key
}

/// Whether the server turned the connection away: after sending `probe`, reading gives an
/// error or the end of the stream (with TLS 1.3 the client's handshake ends before the server
/// has checked its certificate, so the refusal shows on the first read). A read that times
/// out (the server waits for more) is no refusal.
pub fn refused(stream: &mut (impl Read + Write), probe: &[u8]) -> bool {
    let _ = stream.write_all(probe).and_then(|()| stream.flush());
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// [`refused`] for async streams; a stream still open after `wait` was not refused.
pub async fn refused_async<S>(stream: &mut S, probe: &[u8], wait: Duration) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.write_all(probe).await;
    let _ = stream.flush().await;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut buf)).await,
        Ok(Err(_) | Ok(0))
    )
}
