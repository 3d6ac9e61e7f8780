//! TLS and mTLS on the gRPC port, with certificates that rotate without a restart.
//!
//! Every `CheckRequest` carries a bearer token; outside a mesh the hop from Envoy to this
//! service must not carry it in clear. `AUTHZ_TLS_CERT_FILE` + `AUTHZ_TLS_KEY_FILE` turn
//! TLS on (TLS 1.2 and 1.3, ALPN `h2`, the aws-lc provider reqwest already uses);
//! `AUTHZ_TLS_CLIENT_CA_FILE` adds mTLS: a client gets a handshake only with a certificate
//! from that CA.
//!
//! The three files are one unit: they are read together, checked together (the key must
//! match the certificate, the certificate must be valid now, the CA file must hold only CA
//! certificates) and become one rustls `ServerConfig`, swapped in atomically. Each
//! handshake takes the config in force when it starts, so a new connection sees a new
//! certificate (and a new CA set) at once, and an established connection, already past its
//! handshake, is never cut. A new config also brings a new session cache, so a session set
//! up under an old CA cannot be resumed under the new one.
//!
//! The files are followed like the policy (`policy/watch.rs`): cert-manager writes a
//! Secret and the kubelet swaps the `..data` symlink of the mount, so we watch the
//! *folders*, read a swap at once, read any other change only once the folder has been
//! quiet, compare the files' identities every poll in case an event was missed, and ignore
//! access events so our own reads never wake us. A new set that cannot be read or does not
//! fit together (a certificate renewed before its key was written), or whose certificate
//! has expired or is not valid yet (every client would refuse it), is refused, logged and
//! counted, and the last good config stays in force. A certificate refused only because it
//! is not valid yet is tried again when it becomes valid, without waiting for a change.
//!
//! A client CA file holding a certificate that is not a CA (basicConstraints `CA:false`, or
//! none at all) is refused: rustls would take any certificate in it as a trust anchor, so a
//! server certificate pasted there by mistake would admit every client certificate its
//! key signed.
//!
//! Handshakes happen off the accept loop, one task per connection, each bounded by
//! [`HANDSHAKE_TIMEOUT`]: a client that connects and never finishes its handshake holds its
//! connection slot for that long at most. Nothing here logs key material: errors name the
//! variable and the file, never the contents.
//!
//! Over 500 lines: a quarter is unit tests; the rest is one unit (load and check the files,
//! build the rustls config, follow the files, count handshakes) around one swapped config.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use crate::files::{ReadError, read_text};
use crate::listen::Conn;
use crate::settings::TlsFiles;

/// Longest time a client may take to finish its TLS handshake after connecting. A
/// handshake takes milliseconds in a cluster; this bounds what a silent client holds.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest PEM file read (a CA bundle with every public root is about 250 KiB).
const MAX_PEM_BYTES: usize = 1024 * 1024;

const CERT_VAR: &str = "AUTHZ_TLS_CERT_FILE";
const KEY_VAR: &str = "AUTHZ_TLS_KEY_FILE";
const CA_VAR: &str = "AUTHZ_TLS_CLIENT_CA_FILE";

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
fn utc(secs: i64) -> String {
    crate::token::access::utc(secs.max(0) as u64)
}

/// Now, in Unix seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The contents of the three files, as read together.
struct Texts {
    cert: String,
    key: String,
    client_ca: Option<String>,
}

impl Texts {
    fn read(files: &TlsFiles) -> Result<Texts, TlsError> {
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
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()] {
            match part {
                Some(text) => {
                    h.update((text.len() as u64).to_be_bytes());
                    h.update(text.as_bytes());
                }
                None => h.update(u64::MAX.to_be_bytes()),
            }
        }
        h.finalize().into()
    }
}

/// A checked set of files, ready to serve.
struct Loaded {
    config: Arc<ServerConfig>,
    /// The serving certificate's notAfter, Unix seconds.
    not_after: i64,
    subject: String,
    client_cas: usize,
}

/// Builds the server config from the files' contents: the chain and its matching key, and
/// the client CA verifier when mTLS is on. `now` (Unix seconds) is when the serving
/// certificate must be valid.
fn build(files: &TlsFiles, texts: &Texts, now: i64) -> Result<Loaded, TlsError> {
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

/// TLS on the gRPC port: the config in force, replaced as the files change.
pub struct Tls {
    files: TlsFiles,
    config: ArcSwap<ServerConfig>,
    /// The digest of the files loaded at start, so that the first event does not count
    /// an unchanged set as a reload.
    started_with: [u8; 32],
}

/// How the files are followed (the same timing as the policy's).
pub type Follow = crate::follow::Timing;

impl Tls {
    /// Reads and checks the files once (a startup error names the variable and the file).
    pub fn load(files: &TlsFiles) -> Result<Arc<Tls>, TlsError> {
        let texts = Texts::read(files)?;
        let loaded = build(files, &texts, now_unix())
            .inspect_err(|_| crate::metrics::tls_reload("failure"))?;
        let tls = Arc::new(Tls {
            files: files.clone(),
            config: ArcSwap::new(loaded.config.clone()),
            started_with: texts.digest(),
        });
        tls.announce(&loaded, "TLS on the gRPC port");
        Ok(tls)
    }

    /// Loads the files and follows them for as long as the process runs.
    pub fn start(files: &TlsFiles, follow: Follow) -> Result<Arc<Tls>, String> {
        let tls = Tls::load(files).map_err(|e| e.to_string())?;
        tls.clone()
            .follow(follow)
            .map_err(|e| format!("cannot watch the TLS files: {e}"))?;
        Ok(tls)
    }

    /// The config new handshakes use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    fn announce(&self, loaded: &Loaded, what: &str) {
        crate::metrics::tls_reload("success");
        crate::metrics::tls_not_after(loaded.not_after);
        tracing::info!(
            cert = %self.files.cert.display(),
            subject = %loaded.subject,
            not_after = loaded.not_after,
            client_cas = loaded.client_cas,
            mtls = loaded.client_cas > 0,
            "{what}"
        );
    }

    /// Handshakes each accepted connection in its own task, within [`HANDSHAKE_TIMEOUT`],
    /// and hands out the ones that succeed. Ends when the returned receiver is dropped
    /// (dropping `conns` in turn, which stops the listener).
    pub fn accept(
        self: &Arc<Self>,
        conns: mpsc::Receiver<io::Result<Conn>>,
    ) -> mpsc::Receiver<io::Result<TlsConn>> {
        self.accept_within(conns, HANDSHAKE_TIMEOUT)
    }

    fn accept_within(
        self: &Arc<Self>,
        mut conns: mpsc::Receiver<io::Result<Conn>>,
        timeout: Duration,
    ) -> mpsc::Receiver<io::Result<TlsConn>> {
        let (tx, rx) = mpsc::channel(16);
        let tls = self.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    conn = conns.recv() => match conn {
                        Some(Ok(conn)) => conn,
                        Some(Err(e)) => {
                            if tx.send(Err(e)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        None => return,
                    },
                    _ = tx.closed() => return,
                };
                let acceptor = TlsAcceptor::from(tls.config());
                let tx = tx.clone();
                tokio::spawn(async move {
                    let peer = conn.stream().peer_addr().ok();
                    match tokio::time::timeout(timeout, acceptor.accept(conn)).await {
                        Ok(Ok(stream)) => {
                            crate::metrics::tls_handshake("ok");
                            let _ = tx.send(Ok(TlsConn(stream))).await;
                        }
                        Ok(Err(e)) => {
                            let reason = refusal(&e);
                            crate::metrics::tls_handshake(reason);
                            tracing::debug!(?peer, reason, error = %e, "TLS handshake refused");
                        }
                        Err(_) => {
                            crate::metrics::tls_handshake("timeout");
                            crate::metrics::limit_tripped("tls_handshake_timeout");
                            tracing::debug!(?peer, "TLS handshake not finished in time; closed");
                        }
                    }
                });
            }
        });
        rx
    }

    /// Follows the files ([`crate::follow`]); puts each good new set in force and keeps
    /// the last good one when a new set is refused.
    fn follow(self: Arc<Self>, timing: Follow) -> Result<(), notify::Error> {
        let mut changes =
            crate::follow::spawn(self.paths().map(Path::to_path_buf).collect(), timing)?;
        tokio::spawn(async move {
            let mut last = self.started_with;
            let mut last_error = String::new();
            // When a set refused only for being early becomes valid: it is built again then.
            let mut valid_from: Option<i64> = None;
            loop {
                let woke = match valid_from {
                    Some(at) => {
                        let wait = Duration::from_secs((at - now_unix()).max(0) as u64 + 1);
                        tokio::select! {
                            change = changes.recv() => change.is_some(),
                            () = tokio::time::sleep(wait) => true,
                        }
                    }
                    None => changes.recv().await.is_some(),
                };
                if !woke {
                    return;
                }
                let files = self.files.clone();
                let attempt = tokio::task::spawn_blocking(move || {
                    let texts = Texts::read(&files)?;
                    let digest = texts.digest();
                    Ok::<_, TlsError>((digest, texts))
                })
                .await;
                let (digest, texts) = match attempt {
                    Ok(Ok(read)) => read,
                    Ok(Err(e)) => {
                        refused(&mut last_error, &e);
                        continue;
                    }
                    Err(_) => continue,
                };
                if last == digest && valid_from.is_none() {
                    continue;
                }
                last = digest;
                valid_from = None;
                let files = self.files.clone();
                let built =
                    tokio::task::spawn_blocking(move || build(&files, &texts, now_unix())).await;
                match built {
                    Ok(Ok(loaded)) => {
                        last_error.clear();
                        self.config.store(loaded.config.clone());
                        self.announce(&loaded, "TLS files reloaded; new connections use them");
                    }
                    Ok(Err(e)) => {
                        if let TlsError::NotYetValid { not_before, .. } = e {
                            valid_from = Some(not_before);
                        }
                        refused(&mut last_error, &e);
                    }
                    Err(_) => {}
                }
            }
        });
        Ok(())
    }

    fn paths(&self) -> impl Iterator<Item = &Path> {
        [
            Some(self.files.cert.as_path()),
            Some(self.files.key.as_path()),
            self.files.client_ca.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

fn refused(last_error: &mut String, error: &TlsError) {
    let error = error.to_string();
    if *last_error != error {
        tracing::error!(%error, "TLS files refused; the last good certificate stays in force");
        crate::metrics::tls_reload("failure");
        *last_error = error;
    }
}

/// The metric label for a refused handshake.
fn refusal(e: &io::Error) -> &'static str {
    match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::NoCertificatesPresented) => "no_client_certificate",
        Some(rustls::Error::InvalidCertificate(_)) => "bad_client_certificate",
        Some(rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. }) => {
            "not_tls"
        }
        _ => "failed",
    }
}

/// A connection past its TLS handshake, still holding its connection slot and idle timer.
pub struct TlsConn(tokio_rustls::server::TlsStream<Conn>);

impl TlsConn {
    /// The protocol ALPN settled on (`h2`), if the client offered any.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.0.get_ref().1.alpn_protocol()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    /// `false`, as for a plaintext [`Conn`]: the HTTP/2 writer then gathers the answers of
    /// several checks into one buffer, sealed into TLS records together, instead of one
    /// write per answer.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The same connection info as a plaintext connection, so nothing downstream differs.
impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a certificate it issued for `localhost`, as PEM: (ca, cert, key).
    fn issued() -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "unit test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).unwrap();
        (ca_cert.pem(), cert.pem(), key.serialize_pem())
    }

    fn files(dir: &Path, ca: bool) -> TlsFiles {
        TlsFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            client_ca: ca.then(|| dir.join("ca.crt")),
        }
    }

    #[test]
    fn a_good_set_loads_with_alpn_h2_and_its_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = issued();
        std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), &key).unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca).unwrap();
        let files = files(dir.path(), true);
        let loaded = build(&files, &Texts::read(&files).unwrap(), now_unix()).unwrap();
        assert_eq!(loaded.config.alpn_protocols, vec![b"h2".to_vec()]);
        assert_eq!(loaded.client_cas, 1);
        // rcgen's default validity ends in 4096.
        assert!(loaded.not_after > 4_000_000_000, "{}", loaded.not_after);
    }

    #[test]
    fn errors_name_the_variable_and_the_file_and_never_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = issued();
        let (_, other_cert, _) = issued();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        let error = |ca: bool| {
            let files = files(dir.path(), ca);
            match Texts::read(&files) {
                Ok(texts) => build(&files, &texts, now_unix())
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            }
        };
        let path = |name: &str| dir.path().join(name).display().to_string();

        let e = error(false);
        assert!(e.starts_with("AUTHZ_TLS_CERT_FILE: cannot read"), "{e}");
        assert!(e.contains(&path("tls.crt")), "{e}");

        write("tls.crt", &cert);
        let e = error(false);
        assert!(e.starts_with("AUTHZ_TLS_KEY_FILE: cannot read"), "{e}");

        write("tls.key", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n");
        let e = error(false);
        assert!(e.starts_with("AUTHZ_TLS_KEY_FILE"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");

        write("tls.key", &key);
        write("tls.crt", &other_cert);
        let e = error(false);
        assert!(e.starts_with("AUTHZ_TLS_KEY_FILE"), "{e}");
        assert!(e.contains("does not match"), "{e}");
        assert!(
            e.contains(&path("tls.crt")) && e.contains(&path("tls.key")),
            "{e}"
        );

        write("tls.crt", "not a certificate\n");
        let e = error(false);
        assert!(e.starts_with("AUTHZ_TLS_CERT_FILE"), "{e}");
        assert!(e.contains("no PEM certificate"), "{e}");

        write("tls.crt", &cert);
        write("ca.crt", &key);
        let e = error(true);
        assert!(e.starts_with("AUTHZ_TLS_CLIENT_CA_FILE"), "{e}");
        assert!(e.contains(&path("ca.crt")), "{e}");

        write("ca.crt", &ca);
        assert_eq!(error(true), "", "the good set must load");
    }

    /// The error `build` gives for these files at `now`, or "" when they load.
    fn error_at(files: &TlsFiles, now: i64) -> String {
        match Texts::read(files) {
            Ok(texts) => build(files, &texts, now)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_serving_certificate_outside_its_validity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, cert, key) = issued();
        std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), &key).unwrap();
        let files = files(dir.path(), false);
        let parsed = x509_parser::parse_x509_certificate(
            &CertificateDer::from_pem_slice(cert.as_bytes()).unwrap(),
        )
        .unwrap()
        .1
        .validity()
        .clone();
        let (from, until) = (parsed.not_before.timestamp(), parsed.not_after.timestamp());

        assert_eq!(error_at(&files, from), "");
        assert_eq!(error_at(&files, until), "");
        let e = error_at(&files, until + 1);
        assert!(
            e.starts_with("AUTHZ_TLS_CERT_FILE: the certificate in"),
            "{e}"
        );
        assert!(e.contains("expired at 4096-01-01T00:00:00Z"), "{e}");
        let e = error_at(&files, from - 1);
        assert!(e.starts_with("AUTHZ_TLS_CERT_FILE"), "{e}");
        assert!(
            e.contains(&format!("is not valid before {}", utc(from))),
            "{e}"
        );
    }

    #[test]
    fn a_client_ca_file_must_hold_only_ca_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = issued();
        std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), &key).unwrap();
        let files = files(dir.path(), true);
        let leaf = |is_ca: rcgen::IsCa| {
            let mut params = rcgen::CertificateParams::new(vec!["envoy".to_owned()]).unwrap();
            params.is_ca = is_ca;
            params
                .self_signed(&rcgen::KeyPair::generate().unwrap())
                .unwrap()
                .pem()
        };
        for (what, text) in [
            ("CA:false", leaf(rcgen::IsCa::ExplicitNoCa)),
            ("no basicConstraints", leaf(rcgen::IsCa::NoCa)),
            ("the serving certificate", cert.clone()),
            (
                "a CA and a leaf",
                format!("{ca}{}", leaf(rcgen::IsCa::NoCa)),
            ),
        ] {
            std::fs::write(dir.path().join("ca.crt"), &text).unwrap();
            let e = error_at(&files, now_unix());
            assert!(
                e.starts_with("AUTHZ_TLS_CLIENT_CA_FILE") && e.contains("not a CA certificate"),
                "{what}: {e}"
            );
        }
        std::fs::write(dir.path().join("ca.crt"), &ca).unwrap();
        assert_eq!(error_at(&files, now_unix()), "");
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_handshake_is_closed_and_frees_its_slot() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = issued();
        std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), &key).unwrap();
        let tls = Tls::load(&files(dir.path(), false)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = crate::listen::accept(
            listener,
            crate::listen::Limits {
                port: "grpc",
                max_connections: 1,
                idle_timeout: None,
            },
        );
        let mut handshaken = tls.accept_within(conns, Duration::from_millis(300));

        // Holds the only connection slot and sends nothing.
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let closed = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
        )
        .await
        .expect("the silent client must be closed");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");

        // Its slot is free again: a real client gets a handshake.
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(ca.as_bytes()).map(Result::unwrap),
        );
        let client =
            rustls::ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let (_client, server) = tokio::join!(
            async { connector.connect(name, tcp).await.unwrap() },
            async {
                tokio::time::timeout(Duration::from_secs(30), handshaken.recv())
                    .await
                    .unwrap()
            }
        );
        assert!(matches!(server, Some(Ok(_))));
    }
}
