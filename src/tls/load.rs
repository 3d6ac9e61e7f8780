//! Reading the three TLS files together and checking that they fit: the key matches the
//! certificate, the certificate is valid now, the client CA file holds only CA certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use super::{CA_VAR, CERT_VAR, KEY_VAR, MAX_PEM_BYTES};
use crate::files::{ReadError, read_text};
use crate::settings::TlsFiles;

/// Why the TLS files cannot be used. Every error names the variable and the file; none
/// carries anything read from the key file.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{var}: cannot read {}: {source}", path.display())]
    Read {
        var: &'static str,
        path: PathBuf,
        source: ReadError,
    },
    #[error("{var}: {} is not valid PEM: {detail}", path.display())]
    Pem {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("{var}: {} holds no PEM certificate", path.display())]
    NoCertificate { var: &'static str, path: PathBuf },
    #[error("{var}: {} holds no usable CA certificate", path.display())]
    NoCaCertificate { var: &'static str, path: PathBuf },
    #[error("{var}: {} holds a certificate that cannot be used: {detail}", path.display())]
    BadCertificate {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("{var}: {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1) that can be read", path.display())]
    NoKey { var: &'static str, path: PathBuf },
    #[error("{var}: the private key in {} cannot be used: {detail}", path.display())]
    BadKey {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "{KEY_VAR}: the private key in {} does not match the certificate in {} ({CERT_VAR})",
        key.display(),
        cert.display()
    )]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error(
        "{CERT_VAR}: the certificate in {} expired at {} (every client would refuse it)",
        path.display(),
        utc(*not_after)
    )]
    Expired { path: PathBuf, not_after: i64 },
    #[error(
        "{CERT_VAR}: the certificate in {} is not valid before {} (every client would refuse it until then)",
        path.display(),
        utc(*not_before)
    )]
    NotYetValid { path: PathBuf, not_before: i64 },
    #[error(
        "{CA_VAR}: {} holds a certificate that is not a CA certificate ({subject}: basicConstraints CA:false or absent); list only the CA certificates that issue client certificates",
        path.display()
    )]
    NotCa { path: PathBuf, subject: String },
    #[error("{var}: {} cannot be used to verify client certificates: {detail}", path.display())]
    ClientCa {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
}

/// A Unix time as `2026-01-01T00:00:00Z` (times before 1970 as 1970).
pub(super) fn utc(secs: i64) -> String {
    crate::token::access::utc(secs.max(0) as u64)
}

/// Now, in Unix seconds.
pub(super) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The contents of the three files, as read together.
pub(super) struct Texts {
    pub(super) cert: String,
    pub(super) key: String,
    pub(super) client_ca: Option<String>,
}

impl Texts {
    pub(super) fn read(files: &TlsFiles) -> Result<Texts, TlsError> {
        let read = |var: &'static str, path: &Path| {
            read_text(path, MAX_PEM_BYTES).map_err(|source| TlsError::Read {
                var,
                path: path.to_owned(),
                source,
            })
        };
        Ok(Texts {
            cert: read(CERT_VAR, &files.cert)?,
            key: read(KEY_VAR, &files.key)?,
            client_ca: files
                .client_ca
                .as_deref()
                .map(|p| read(CA_VAR, p))
                .transpose()?,
        })
    }

    /// Tells a real change from a touch, without keeping the key's text around.
    pub(super) fn digest(&self) -> [u8; 32] {
        let mut h = ::aws_lc_rs::digest::Context::new(&::aws_lc_rs::digest::SHA256);
        for part in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()] {
            match part {
                Some(text) => {
                    h.update(&(text.len() as u64).to_be_bytes());
                    h.update(text.as_bytes());
                }
                None => h.update(&u64::MAX.to_be_bytes()),
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(h.finish().as_ref());
        out
    }
}

/// A checked set of files, ready to serve.
pub(super) struct Loaded {
    pub(super) config: Arc<ServerConfig>,
    /// The serving certificate's notAfter, Unix seconds.
    pub(super) not_after: i64,
    pub(super) subject: String,
    pub(super) client_cas: usize,
}

/// Builds the server config from the files' contents: the chain and its matching key, and
/// the client CA verifier when mTLS is on. `now` (Unix seconds) is when the serving
/// certificate must be valid.
pub(super) fn build(files: &TlsFiles, texts: &Texts, now: i64) -> Result<Loaded, TlsError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let chain = certificates(CERT_VAR, &files.cert, &texts.cert)?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            var: CERT_VAR,
            path: files.cert.clone(),
        });
    };
    let bad_cert = |detail: String| TlsError::BadCertificate {
        var: CERT_VAR,
        path: files.cert.clone(),
        detail,
    };
    let (not_before, not_after, subject) = match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, parsed)) => (
            parsed.validity().not_before.timestamp(),
            parsed.validity().not_after.timestamp(),
            parsed.subject().to_string(),
        ),
        Err(e) => return Err(bad_cert(e.to_string())),
    };
    // Only the leaf: a chain may carry an expired cross-signed certificate on purpose, and
    // clients that build their path without it still accept the leaf.
    if now > not_after {
        return Err(TlsError::Expired {
            path: files.cert.clone(),
            not_after,
        });
    }
    if now < not_before {
        return Err(TlsError::NotYetValid {
            path: files.cert.clone(),
            not_before,
        });
    }
    // Any PEM error in the key file is reported without its detail: it may quote the file.
    let key = PrivateKeyDer::from_pem_slice(texts.key.as_bytes()).map_err(|_| TlsError::NoKey {
        var: KEY_VAR,
        path: files.key.clone(),
    })?;
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            key: files.key.clone(),
            cert: files.cert.clone(),
        },
        rustls::Error::InvalidCertificate(e) => bad_cert(format!("{e:?}")),
        other => TlsError::BadKey {
            var: KEY_VAR,
            path: files.key.clone(),
            detail: other.to_string(),
        },
    })?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("aws-lc-rs supports TLS 1.2 and 1.3");
    let mut client_cas = 0;
    let builder = match (&files.client_ca, &texts.client_ca) {
        (Some(path), Some(text)) => {
            let cas = certificates(CA_VAR, path, text)?;
            only_cas(path, &cas)?;
            let mut roots = RootCertStore::empty();
            let (added, _unusable) = roots.add_parsable_certificates(cas);
            if added == 0 {
                return Err(TlsError::NoCaCertificate {
                    var: CA_VAR,
                    path: path.clone(),
                });
            }
            client_cas = added;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientCa {
                    var: CA_VAR,
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Loaded {
        config: Arc::new(config),
        not_after,
        subject,
        client_cas,
    })
}

/// Refuses a client CA file with any certificate that is not a CA certificate: rustls takes
/// every certificate it is given as a trust anchor, a leaf included.
fn only_cas(path: &Path, certs: &[CertificateDer<'_>]) -> Result<(), TlsError> {
    for cert in certs {
        let parsed = x509_parser::parse_x509_certificate(cert)
            .map_err(|e| TlsError::BadCertificate {
                var: CA_VAR,
                path: path.to_owned(),
                detail: e.to_string(),
            })?
            .1;
        if !parsed.is_ca() {
            return Err(TlsError::NotCa {
                path: path.to_owned(),
                subject: parsed.subject().to_string(),
            });
        }
    }
    Ok(())
}

/// Every certificate in a PEM text (other sections, such as a key, are skipped).
fn certificates(
    var: &'static str,
    path: &Path,
    text: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            var,
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(match var {
            CA_VAR => TlsError::NoCaCertificate {
                var,
                path: path.to_owned(),
            },
            _ => TlsError::NoCertificate {
                var,
                path: path.to_owned(),
            },
        });
    }
    Ok(certs)
}
