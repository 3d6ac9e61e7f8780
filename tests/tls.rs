//! TLS and mTLS on the gRPC port (docs/running.md), against the real service process:
//! certificates made here (a CA, server and client certificates), real rustls handshakes
//! on loopback, and the certificate files replaced the way the kubelet and cert-manager do.
//!
//! The TLS plumbing (a CA, a kubelet-style Secret, a rustls client) is in `tls_support`,
//! shared with `tests/tls_validity.rs`.

mod tls_support;

use cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use testkit::*;
use tls_support::*;
use tls_support::{eventually, sample};

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn checks_and_health_are_served_over_tls_and_a_plaintext_client_is_refused() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let tls_dir = tempfile::tempdir().unwrap();
    let secret = Secret::new(
        tls_dir.path(),
        &[("tls.crt", &server.cert), ("tls.key", &server.key)],
    );
    let service = tls_service(&keys, &secret).await;

    let client = Client::new(&ca.pem, None);
    let mut conn = client.connect_when_up(&service).await;
    assert_eq!(conn.server_cert, server.der);
    assert_eq!(conn.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    assert_eq!(status_on(&mut conn, None).await, Ok(401));
    // Health is served on the same port, under the same TLS.
    assert_eq!(health_on(&conn).await, 1);

    // A plaintext gRPC client gets no answer: its HTTP/2 preface is not a TLS handshake.
    let plain = async {
        let mut plain = AuthorizationClient::connect(format!("http://{}", service.grpc)).await?;
        plain
            .check(request("POST", "h", "/users/1", &[]))
            .await
            .map_err(Into::<Box<dyn std::error::Error>>::into)
    };
    let answer = tokio::time::timeout(DEADLINE, plain)
        .await
        .expect("refused in time");
    assert!(
        answer.is_err(),
        "a plaintext client was answered: {answer:?}"
    );

    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2031) as f64,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, RELOAD_OK), 1.0, "{metrics}");
    assert!(
        sample(
            &metrics,
            "cognito_ext_authz_tls_handshakes_total{result=\"not_tls\"}"
        ) >= 1.0,
        "{metrics}"
    );
    // The admin port stays plain HTTP (service.metrics() above used http://).
    drop(keys);
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let stranger_ca = Ca::new("some other CA");
    let server = ca.server("authz", 2031);
    let tls_dir = tempfile::tempdir().unwrap();
    let secret = Secret::new(tls_dir.path(), &mtls_files(&server, &client_ca));
    let service = mtls_service(&keys, &secret).await;

    let envoy = Client::new(&ca.pem, Some(&client_ca.client("envoy")));
    let mut conn = envoy.connect_when_up(&service).await;
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    assert_eq!(health_on(&conn).await, 1);

    // Without a certificate, or with one from another CA: no check is ever answered (under
    // TLS 1.3 the client may think its handshake done until the server's alert arrives).
    for (who, client) in [
        ("no certificate", Client::new(&ca.pem, None)),
        (
            "a certificate from another CA",
            Client::new(&ca.pem, Some(&stranger_ca.client("envoy"))),
        ),
    ] {
        match client.connect(service.grpc).await {
            Err(_) => {}
            Ok(mut conn) => {
                let answer = status_on(&mut conn, Some(&token())).await;
                assert!(
                    answer.is_err(),
                    "a client with {who} was answered: {answer:?}"
                );
            }
        }
    }
    let metrics = service.metrics().await;
    for refusal in ["no_client_certificate", "bad_client_certificate"] {
        let series = format!("cognito_ext_authz_tls_handshakes_total{{result=\"{refusal}\"}}");
        assert!(sample(&metrics, &series) >= 1.0, "{series}\n{metrics}");
    }
    // The client that belongs still gets answers, on its old and on a new connection.
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    let mut again = envoy.connect(service.grpc).await.unwrap();
    assert_eq!(status_on(&mut again, Some(&token())).await, Ok(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_reaches_new_connections_while_established_ones_keep_working() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("cert-manager CA");
    let client_ca = Ca::new("client CA");
    let first = ca.server("authz", 2031);
    let second = ca.server("authz", 2032);
    let tls_dir = tempfile::tempdir().unwrap();
    let mut secret = Secret::new(tls_dir.path(), &mtls_files(&first, &client_ca));
    let service = mtls_service(&keys, &secret).await;
    let envoy = Client::new(&ca.pem, Some(&client_ca.client("envoy")));
    let mut established = envoy.connect_when_up(&service).await;
    assert_eq!(established.server_cert, first.der);
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));

    // cert-manager renews: the kubelet swaps `..data` to a folder with the new pair.
    secret.swap(&mtls_files(&second, &client_ca));
    eventually(
        "a new connection shown the new certificate",
        &service,
        || async { envoy.served_cert(service.grpc).await == second.der },
    )
    .await;
    // The connection made before the rotation is not cut and keeps being answered.
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    assert_eq!(status_on(&mut established, None).await, Ok(401));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2032) as f64,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, RELOAD_OK), 2.0, "{metrics}");
    assert_eq!(sample(&metrics, RELOAD_FAILED), 0.0, "{metrics}");

    // The client CA rotates too: a client of the old CA is refused from now on.
    let new_client_ca = Ca::new("client CA 2");
    secret.swap(&[
        ("tls.crt", &second.cert),
        ("tls.key", &second.key),
        ("ca.crt", &new_client_ca.pem),
    ]);
    let envoy2 = Client::new(&ca.pem, Some(&new_client_ca.client("envoy")));
    eventually(
        "a client of the new client CA admitted",
        &service,
        || async {
            match envoy2.connect(service.grpc).await {
                Ok(mut c) => status_on(&mut c, Some(&token())).await == Ok(200),
                Err(_) => false,
            }
        },
    )
    .await;
    match envoy.connect(service.grpc).await {
        Err(_) => {}
        Ok(mut c) => assert!(status_on(&mut c, Some(&token())).await.is_err()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_replacement_is_refused_and_counted_and_the_last_good_pair_stays() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("test CA");
    let first = ca.server("authz", 2031);
    let second = ca.server("authz", 2032);
    // Plain files, replaced by rename (outside Kubernetes), read once quiet for 200 ms.
    let tls_dir = tempfile::tempdir().unwrap();
    let cert = write(tls_dir.path(), "tls.crt", &first.cert);
    let key_file = write(tls_dir.path(), "tls.key", &first.key);
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[
            ("AUTHZ_TLS_CERT_FILE", cert.to_str().unwrap()),
            ("AUTHZ_TLS_KEY_FILE", key_file.to_str().unwrap()),
            ("AUTHZ_POLICY_QUIET_MS", "200"),
        ],
    )
    .await;
    let client = Client::new(&ca.pem, None);
    let mut established = client.connect_when_up(&service).await;
    assert_eq!(established.server_cert, first.der);

    // A renewed certificate whose key was never written: the pair does not match.
    replace(&cert, &second.cert);
    eventually(
        "the mismatched pair refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 1.0 },
    )
    .await;
    assert!(
        service.logs().contains("does not match"),
        "{}",
        service.logs()
    );
    assert_eq!(client.served_cert(service.grpc).await, first.der);

    // A key file that is not a key: refused too, and its text never reaches the log.
    replace(
        &key_file,
        "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----\n",
    );
    eventually(
        "the unreadable key refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 2.0 },
    )
    .await;
    assert!(!service.logs().contains("bm90LWEta2V5"));
    assert_eq!(client.served_cert(service.grpc).await, first.der);
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2031) as f64,
        "{metrics}"
    );

    // The key arrives: the new pair is put in force.
    replace(&key_file, &second.key);
    eventually("the completed pair served", &service, || async {
        client.served_cert(service.grpc).await == second.der
    })
    .await;
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2032) as f64,
        "{metrics}"
    );
    // No key material is ever logged.
    let key_body: String = first
        .key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!service.logs().contains(&key_body[..20]));
}

#[test]
fn startup_errors_name_the_variable_and_the_file() {
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let other = ca.server("other", 2031);
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "tls.crt", &server.cert);
    let key_file = write(dir.path(), "tls.key", &server.key);
    let other_key = write(dir.path(), "other.key", &other.key);
    let not_ca = write(dir.path(), "ca.crt", "no certificates here\n");
    let missing = dir.path().join("missing.crt");
    let (cert, key_file, other_key, not_ca, missing) = (
        cert.to_str().unwrap(),
        key_file.to_str().unwrap(),
        other_key.to_str().unwrap(),
        not_ca.to_str().unwrap(),
        missing.to_str().unwrap(),
    );

    /// The environment, the variable the error must name, the file it must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", missing),
                ("AUTHZ_TLS_KEY_FILE", key_file),
            ],
            "AUTHZ_TLS_CERT_FILE",
            missing,
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", cert),
                ("AUTHZ_TLS_KEY_FILE", other_key),
            ],
            "AUTHZ_TLS_KEY_FILE",
            other_key,
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", cert),
                ("AUTHZ_TLS_KEY_FILE", key_file),
                ("AUTHZ_TLS_CLIENT_CA_FILE", not_ca),
            ],
            "AUTHZ_TLS_CLIENT_CA_FILE",
            not_ca,
        ),
        (&[("AUTHZ_TLS_CERT_FILE", cert)], "AUTHZ_TLS_KEY_FILE", ""),
    ];
    for (env, variable, file) in cases {
        let (code, stderr) = serve_exit(env);
        assert_ne!(code, Some(0), "{env:?}: {stderr}");
        assert!(stderr.contains(variable), "{env:?}: {stderr}");
        assert!(stderr.contains(file), "{env:?}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}
