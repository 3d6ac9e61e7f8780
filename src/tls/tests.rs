use super::load::utc;
use super::*;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::crypto::aws_lc_rs;

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
    let mut handshaken = tls.accept_within(conns, Duration::from_millis(300), Alpn::H2);

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
