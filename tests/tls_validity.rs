//! TLS files that parse and fit together but must still be refused (docs/security.md),
//! against the real service process: a serving certificate that has expired or is not
//! valid yet (every client would refuse it, so putting it in force is an outage), and a
//! client CA file holding a certificate that is not a CA (rustls would take it as a trust
//! anchor, and every client certificate signed by its key would pass). At start each is a
//! start error naming the variable and the file; at rotation each is refused and counted,
//! and the last good set keeps serving.

mod tls_support;

use testkit::*;
use tls_support::*;
use tls_support::{eventually, sample};

/// A server certificate for `localhost` issued by `ca`, valid from `not_before` to
/// `not_after`, with its key.
fn server_valid(
    ca: &Ca,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> Issued {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params.distinguished_name = dn("authz");
    params.not_before = not_before;
    params.not_after = not_after;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    ca.issue(params)
}

/// A certificate that is not a CA (`is_ca`: basicConstraints CA:false, or none), issued by
/// `ca`, and an issuer that signs with its key: what an attacker holding that key could
/// make if the certificate were taken as a trust anchor.
fn leaf_and_its_issuer(
    ca: &Ca,
    is_ca: rcgen::IsCa,
) -> (Issued, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(vec!["envoy".to_owned()]).unwrap();
    params.distinguished_name = dn("a leaf, not a CA");
    params.is_ca = is_ca;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let issued = Issued {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    };
    (issued, rcgen::Issuer::new(params, key))
}

/// A client certificate signed by `issuer`'s key.
fn client_signed_by(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> Issued {
    let mut params = rcgen::CertificateParams::new(vec!["mallory".to_owned()]).unwrap();
    params.distinguished_name = dn("mallory");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Issued {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn years_from_now(years: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(365 * years)
}

#[test]
fn start_refuses_a_certificate_outside_its_validity_and_a_client_ca_file_without_a_ca() {
    let ca = Ca::new("test CA");
    let good = ca.server("authz", 2031);
    let expired = server_valid(&ca, years_from_now(-3), years_from_now(-1));
    let early = server_valid(&ca, years_from_now(1), years_from_now(2));
    let (leaf, _) = leaf_and_its_issuer(&ca, rcgen::IsCa::ExplicitNoCa);
    let (v3_leaf, _) = leaf_and_its_issuer(&ca, rcgen::IsCa::NoCa);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| write(dir.path(), name, text).display().to_string();
    let (good_cert, good_key) = (file("good.crt", &good.cert), file("good.key", &good.key));
    let (expired_cert, expired_key) = (
        file("expired.crt", &expired.cert),
        file("expired.key", &expired.key),
    );
    let (early_cert, early_key) = (
        file("early.crt", &early.cert),
        file("early.key", &early.key),
    );
    let leaf_ca = file("leaf.crt", &leaf.cert);
    let v3_leaf_ca = file("v3-leaf.crt", &v3_leaf.cert);
    let mixed_ca = file("mixed.crt", &format!("{}{}", ca.pem, leaf.cert));

    /// The certificate, key and client CA files; what the error must say and name.
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, &'a str);
    let cases: [Case; 5] = [
        (
            &expired_cert,
            &expired_key,
            None,
            "AUTHZ_TLS_CERT_FILE",
            "expired at",
        ),
        (
            &early_cert,
            &early_key,
            None,
            "AUTHZ_TLS_CERT_FILE",
            "is not valid before",
        ),
        (
            &good_cert,
            &good_key,
            Some(&leaf_ca),
            "AUTHZ_TLS_CLIENT_CA_FILE",
            "not a CA certificate",
        ),
        (
            &good_cert,
            &good_key,
            Some(&v3_leaf_ca),
            "AUTHZ_TLS_CLIENT_CA_FILE",
            "not a CA certificate",
        ),
        (
            &good_cert,
            &good_key,
            Some(&mixed_ca),
            "AUTHZ_TLS_CLIENT_CA_FILE",
            "not a CA certificate",
        ),
    ];
    for (cert, key, client_ca, variable, says) in cases {
        let mut env = vec![("AUTHZ_TLS_CERT_FILE", cert), ("AUTHZ_TLS_KEY_FILE", key)];
        env.extend(client_ca.map(|ca| ("AUTHZ_TLS_CLIENT_CA_FILE", ca)));
        let (code, stderr) = serve_exit(&env);
        let named = if variable == "AUTHZ_TLS_CERT_FILE" {
            cert
        } else {
            client_ca.unwrap()
        };
        assert_ne!(code, Some(0), "{env:?}: {stderr}");
        assert!(
            stderr.contains(variable) && stderr.contains(named) && stderr.contains(says),
            "{env:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_to_an_expired_or_early_certificate_is_refused_and_the_last_good_one_stays() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("cert-manager CA");
    let first = ca.server("authz", 2031);
    let expired = server_valid(&ca, years_from_now(-2), years_from_now(-1));
    let tls_dir = tempfile::tempdir().unwrap();
    let mut secret = Secret::new(
        tls_dir.path(),
        &[("tls.crt", &first.cert), ("tls.key", &first.key)],
    );
    let service = tls_service(&keys, &secret).await;
    let client = Client::new(&ca.pem, None);
    let mut established = client.connect_when_up(&service).await;
    assert_eq!(established.server_cert, first.der);

    // An expired pair (its key matches): in force, every new connection would fail.
    secret.swap(&[("tls.crt", &expired.cert), ("tls.key", &expired.key)]);
    eventually(
        "the expired certificate refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 1.0 },
    )
    .await;
    assert!(service.logs().contains("expired at"), "{}", service.logs());
    assert_eq!(client.served_cert(service.grpc).await, first.der);
    let mut fresh = client.connect(service.grpc).await.unwrap();
    assert_eq!(status_on(&mut fresh, Some(&token())).await, Ok(200));
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));

    // A pair valid from a few seconds on (issued by a clock ahead of the pod's): refused
    // now, put in force once valid without any further change to the files.
    let now = time::OffsetDateTime::now_utc();
    let valid_from = now + time::Duration::seconds(6);
    let early = server_valid(&ca, valid_from, years_from_now(1));
    secret.swap(&[("tls.crt", &early.cert), ("tls.key", &early.key)]);
    eventually(
        "the early certificate refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 2.0 },
    )
    .await;
    assert!(
        service.logs().contains("is not valid before"),
        "{}",
        service.logs()
    );
    let served = client.served_cert(service.grpc).await;
    // On a loaded machine the early pair may already be valid by now.
    if time::OffsetDateTime::now_utc() < valid_from {
        assert_eq!(
            served, first.der,
            "the early pair served before it was valid"
        );
    }
    eventually(
        "the early certificate served once valid",
        &service,
        || async { client.served_cert(service.grpc).await == early.der },
    )
    .await;
    assert!(
        time::OffsetDateTime::now_utc() >= valid_from,
        "served before it was valid"
    );
    let metrics = service.metrics().await;
    assert_eq!(sample(&metrics, RELOAD_OK), 2.0, "{metrics}");
    assert_eq!(sample(&metrics, RELOAD_FAILED), 2.0, "{metrics}");
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaf_certificate_in_the_client_ca_file_admits_no_client_it_signed() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let server = ca.server("authz", 2031);
    let tls_dir = tempfile::tempdir().unwrap();
    let mut secret = Secret::new(tls_dir.path(), &mtls_files(&server, &client_ca));
    let service = mtls_service(&keys, &secret).await;
    let envoy = Client::new(&ca.pem, Some(&client_ca.client("envoy")));
    let mut conn = envoy.connect_when_up(&service).await;
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));

    // The client CA file is replaced by a leaf certificate (CA:false) whose key another
    // party holds: that party signs itself a client certificate with it.
    let (leaf, leaf_issuer) = leaf_and_its_issuer(&client_ca, rcgen::IsCa::ExplicitNoCa);
    secret.swap(&[
        ("tls.crt", &server.cert),
        ("tls.key", &server.key),
        ("ca.crt", &leaf.cert),
    ]);
    eventually(
        "the leaf refused as a client CA and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 1.0 },
    )
    .await;
    assert!(
        service.logs().contains("not a CA certificate"),
        "{}",
        service.logs()
    );
    let mallory = Client::new(&ca.pem, Some(&client_signed_by(&leaf_issuer)));
    match mallory.connect(service.grpc).await {
        Err(_) => {}
        Ok(mut c) => {
            let answer = status_on(&mut c, Some(&token())).await;
            assert!(
                answer.is_err(),
                "a client signed by the leaf was answered: {answer:?}"
            );
        }
    }
    // The last good client CA stays: Envoy's certificate still gets a handshake.
    let mut again = envoy.connect(service.grpc).await.unwrap();
    assert_eq!(status_on(&mut again, Some(&token())).await, Ok(200));
    assert_eq!(sample(&service.metrics().await, RELOAD_OK), 1.0);
}
