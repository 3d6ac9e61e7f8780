//! TLS and mTLS on the gRPC port (and the HTTP authorization port, when it is on: the same
//! config, ALPN `http/1.1`), with certificates that rotate without a restart.
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
//! The files are followed by the policy's follower (`crate::follow::parsed`): cert-manager writes a
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
//! `load.rs` reads and checks the files into a rustls config, `conn.rs` is the connection
//! past its handshake; this module holds the config in force, follows the files and runs
//! the handshakes.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

mod conn;
mod load;
#[cfg(test)]
mod tests;

pub use conn::TlsConn;
pub use load::TlsError;
use load::{Loaded, Texts, build, now_unix};

use crate::follow::{Followed, Refusal};
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

/// Why TLS on the gRPC port cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TlsStartError {
    /// The files cannot be used (the error names the variable and the file).
    #[error(transparent)]
    Files(#[from] TlsError),
    /// The files cannot be followed for changes.
    #[error("cannot watch the TLS files: {0}")]
    Watch(notify::Error),
}

/// Bytes of TLS records a connection may hold waiting for its socket (rustls's default is
/// 64 KiB). Past them its writes wait, as a plaintext socket's do: the gRPC port then stops
/// deciding the connection's checks, so a client that reads nothing has at most this much
/// of its answers held here (`docs/security.md`).
pub const UNSENT_TLS_BYTES: usize = 16 * 1024;

/// Bounds one new server connection's buffers ([`UNSENT_TLS_BYTES`]).
pub fn bound(conn: &mut rustls::ServerConnection) {
    conn.set_buffer_limit(Some(UNSENT_TLS_BYTES));
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
            .inspect_err(|_| crate::observe::metrics::tls_reload("failure"))?;
        let tls = Arc::new(Tls {
            files: files.clone(),
            config: ArcSwap::new(loaded.config.clone()),
            started_with: texts.digest(),
        });
        tls.announce(&loaded, "TLS on the gRPC port");
        Ok(tls)
    }

    /// Loads the files and follows them for as long as the process runs.
    pub fn start(files: &TlsFiles, follow: Follow) -> Result<Arc<Tls>, TlsStartError> {
        let tls = Tls::load(files)?;
        tls.clone().follow(follow).map_err(TlsStartError::Watch)?;
        Ok(tls)
    }

    /// The config new handshakes use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    fn announce(&self, loaded: &Loaded, what: &str) {
        crate::observe::metrics::tls_reload("success");
        crate::observe::metrics::tls_not_after(loaded.not_after);
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
        self.accept_within(conns, HANDSHAKE_TIMEOUT, Alpn::H2)
    }

    /// [`Tls::accept`] for the HTTP/1.1 authorization port: the same certificate, client
    /// CAs and handshake bound, with ALPN `http/1.1` instead of `h2` (a client offering
    /// both, as Go's and Traefik's do, must not be told to speak HTTP/2).
    pub fn accept_http1(
        self: &Arc<Self>,
        conns: mpsc::Receiver<io::Result<Conn>>,
    ) -> mpsc::Receiver<io::Result<TlsConn>> {
        self.accept_within(conns, HANDSHAKE_TIMEOUT, Alpn::Http1)
    }

    fn accept_within(
        self: &Arc<Self>,
        mut conns: mpsc::Receiver<io::Result<Conn>>,
        timeout: Duration,
        alpn: Alpn,
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
                let config = match alpn {
                    Alpn::H2 => tls.config(),
                    Alpn::Http1 => {
                        let mut config = (*tls.config()).clone();
                        config.alpn_protocols = vec![b"http/1.1".to_vec()];
                        Arc::new(config)
                    }
                };
                let acceptor = TlsAcceptor::from(config);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let peer = conn.stream().peer_addr().ok();
                    match tokio::time::timeout(timeout, acceptor.accept_with(conn, bound)).await {
                        Ok(Ok(stream)) => {
                            crate::observe::metrics::tls_handshake("ok");
                            let _ = tx.send(Ok(TlsConn(stream))).await;
                        }
                        Ok(Err(e)) => {
                            let reason = refusal(&e);
                            crate::observe::metrics::tls_handshake(reason);
                            tracing::debug!(?peer, reason, error = %e, "TLS handshake refused");
                        }
                        Err(_) => {
                            crate::observe::metrics::tls_handshake("timeout");
                            crate::observe::metrics::limit_tripped("tls_handshake_timeout");
                            tracing::debug!(?peer, "TLS handshake not finished in time; closed");
                        }
                    }
                });
            }
        });
        rx
    }

    /// Follows the files ([`crate::follow::parsed`]); puts each good new set in force and
    /// keeps the last good one when a new set is refused. A set refused only because its
    /// certificate is not valid yet is tried again when it becomes valid.
    fn follow(self: Arc<Self>, timing: Follow) -> Result<(), notify::Error> {
        let (read_files, build_files) = (self.files.clone(), self.files.clone());
        let mut loaded = crate::follow::parsed(
            self.started_with,
            timing,
            Followed {
                paths: self.paths().map(Path::to_path_buf).collect(),
                read: Box::new(move || {
                    let texts = Texts::read(&read_files).map_err(|e| e.to_string())?;
                    Ok((texts.digest(), texts))
                }),
                parse: Box::new(move |texts| {
                    build(&build_files, &texts, now_unix()).map_err(|e| Refusal {
                        retry_at: match e {
                            TlsError::NotYetValid { not_before, .. } => Some(not_before),
                            _ => None,
                        },
                        error: e.to_string(),
                    })
                }),
                refused: |error| {
                    tracing::error!(%error, "TLS files refused; the last good certificate stays in force");
                    crate::observe::metrics::tls_reload("failure");
                },
            },
        )?;
        tokio::spawn(async move {
            while let Some(loaded) = loaded.recv().await {
                self.config.store(loaded.config.clone());
                self.announce(&loaded, "TLS files reloaded; new connections use them");
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

/// The protocol a port offers in ALPN.
#[derive(Debug, Clone, Copy)]
enum Alpn {
    /// The gRPC port.
    H2,
    /// The HTTP authorization port.
    Http1,
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
