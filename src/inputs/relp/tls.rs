//! TLS for the `relp` input (`ssl_enable`): [`acceptor`] builds the server side from Logstash's
//! `ssl_cert` / `ssl_key` files with native-tls (OpenSSL).
//!
//! native-tls takes a PKCS#8 key (`BEGIN PRIVATE KEY`); Logstash's relp input reads RSA keys,
//! which are often PKCS#1 (`BEGIN RSA PRIVATE KEY`), so those are rewrapped as PKCS#8 here
//! (the PKCS#1 key is the PKCS#8 structure's payload, under the rsaEncryption algorithm).
//! Encrypted keys are refused: native-tls cannot decrypt them.

use base64::Engine as _;
use tokio_native_tls::native_tls;

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")]
    NoKey { path: String },
    #[error(
        "{path} holds an encrypted key, which this input cannot decrypt; decrypt it first \
         (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)"
    )]
    Encrypted { path: String },
    #[error("{path}: the RSA key is not valid base64")]
    BadBase64 { path: String },
    #[error("cannot use the certificate and key: {0}")]
    Identity(native_tls::Error),
}

const PKCS8: (&str, &str) = ("-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----");
const PKCS1: (&str, &str) = (
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
);
const ENCRYPTED_PKCS8: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// A TLS acceptor presenting the certificate (chain) in `cert_path` with the key in `key_path`.
pub fn acceptor(cert_path: &str, key_path: &str) -> Result<native_tls::TlsAcceptor, TlsError> {
    let cert = read(cert_path)?;
    let key = pkcs8_pem(&String::from_utf8_lossy(&read(key_path)?), key_path)?;
    let identity =
        native_tls::Identity::from_pkcs8(&cert, key.as_bytes()).map_err(TlsError::Identity)?;
    native_tls::TlsAcceptor::new(identity).map_err(TlsError::Identity)
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })
}

/// The key in `pem` as a PKCS#8 PEM block.
fn pkcs8_pem(pem: &str, path: &str) -> Result<String, TlsError> {
    if let Some(block) = pem_block(pem, PKCS8) {
        return Ok(block.to_string());
    }
    let encrypted = pem.contains(ENCRYPTED_PKCS8);
    let Some(block) = pem_block(pem, PKCS1).filter(|_| !encrypted) else {
        let path = path.to_string();
        return Err(if encrypted {
            TlsError::Encrypted { path }
        } else {
            TlsError::NoKey { path }
        });
    };
    if block.contains("ENCRYPTED") {
        return Err(TlsError::Encrypted {
            path: path.to_string(),
        });
    }
    let body: String = block[PKCS1.0.len()..block.len() - PKCS1.1.len()]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let pkcs1 = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| TlsError::BadBase64 {
            path: path.to_string(),
        })?;
    Ok(to_pem(&wrap_pkcs1(&pkcs1)))
}

/// The text from `begin` through `end`, if `pem` has such a block.
fn pem_block<'a>(pem: &'a str, (begin, end): (&str, &str)) -> Option<&'a str> {
    let start = pem.find(begin)?;
    let stop = pem[start..].find(end)? + start + end.len();
    Some(&pem[start..stop])
}

/// PKCS#8 `PrivateKeyInfo { version 0, rsaEncryption with NULL parameters, OCTET STRING key }`.
fn wrap_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    const VERSION: &[u8] = &[0x02, 0x01, 0x00];
    const RSA_ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut octets = vec![0x04];
    der_length(pkcs1.len(), &mut octets);
    octets.extend_from_slice(pkcs1);
    let content_len = VERSION.len() + RSA_ALGORITHM.len() + octets.len();
    let mut out = vec![0x30];
    der_length(content_len, &mut out);
    out.extend_from_slice(VERSION);
    out.extend_from_slice(RSA_ALGORITHM);
    out.extend_from_slice(&octets);
    out
}

/// DER's definite length: one byte below 128, else 0x80 + the count of big-endian bytes.
fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    pem.push_str(PKCS8.0);
    pem.push('\n');
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PKCS8.1);
    pem.push('\n');
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        let enc = |n| {
            let mut v = Vec::new();
            der_length(n, &mut v);
            v
        };
        assert_eq!(enc(5), [5]);
        assert_eq!(enc(127), [127]);
        assert_eq!(enc(128), [0x81, 128]);
        assert_eq!(enc(1190), [0x82, 0x04, 0xa6]);
    }

    #[test]
    fn a_pkcs1_body_is_wrapped_in_private_key_info() {
        let wrapped = wrap_pkcs1(&[0xAA; 200]);
        // SEQUENCE, long length 3 + 15 + 3 + 200 = 221.
        assert_eq!(&wrapped[..3], &[0x30, 0x81, 221]);
        assert_eq!(&wrapped[3..6], &[0x02, 0x01, 0x00]);
        assert_eq!(&wrapped[21..24], &[0x04, 0x81, 200]);
        assert_eq!(wrapped.len(), 3 + 221);
    }

    #[test]
    fn keys_are_recognised_by_their_pem_labels() {
        let pkcs8 = "junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(pkcs8_pem(pkcs8, "k").unwrap().starts_with(PKCS8.0));
        let pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nAQID\n-----END RSA PRIVATE KEY-----";
        let converted = pkcs8_pem(pkcs1, "k").unwrap();
        assert!(converted.starts_with(PKCS8.0) && converted.trim_end().ends_with(PKCS8.1));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAQID\n\
                      -----END RSA PRIVATE KEY-----";
        assert!(matches!(
            pkcs8_pem(legacy, "k"),
            Err(TlsError::Encrypted { .. })
        ));
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----";
        assert!(matches!(
            pkcs8_pem(enc, "k"),
            Err(TlsError::Encrypted { .. })
        ));
        assert!(matches!(
            pkcs8_pem("nothing", "k"),
            Err(TlsError::NoKey { .. })
        ));
    }
}
