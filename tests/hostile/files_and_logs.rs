//! Mounted files and the log: huge or FIFO policy paths, in-place rewrites, the watcher, slow log readers, histogram samples.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_path_that_is_huge_or_a_fifo_is_refused_without_reading_it() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let mut service = Service::start_in(BIN, &policy(&keys, ROUTES), &[], false);
    service.wait_ready().await;
    let pid = service.pid();
    let path = service.policy_path();

    // 200 MB (sparse): refused by its size, never read into memory.
    let tmp = service.dir.path().join("huge.tmp");
    let f = std::fs::File::create(&tmp).unwrap();
    f.set_len(200 * 1024 * 1024).unwrap();
    drop(f);
    std::fs::rename(&tmp, &path).unwrap();
    wait_for_log(&service, "is larger than the 1048576 allowed").await;
    let rss = rss_kib(pid);
    eprintln!("RSS after a 200 MB policy file: {rss} KiB");
    assert!(rss < 64 * 1024);

    // A FIFO: refused without blocking anything.
    std::fs::remove_file(&path).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    wait_for_log(&service, "not a regular file").await;
    let mut client = service.client().await;
    let a = check(&mut client, request("GET", "h", "/health", &[])).await;
    assert_eq!(a.status, 200, "the last good policy is still in force");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_rewritten_in_place_takes_effect_only_once_complete() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    // The rewrite puts the any-host files route first: the file cut after it is a valid
    // policy in which files/read is enough on the admin host too.
    let first = "routes:\n  - name: files\n    path: /files/{proxy+}\n    scopes: [files/read]\n";
    let rest = "  - name: admin-files\n    hosts: [admin.example.com]\n    path: /files/{proxy+}\n    scopes: [admin/all]\n  - name: probe\n    path: /probe\n    auth: none\n";
    let prefix = policy(&keys, first);
    let full = policy(&keys, &format!("{first}{rest}"));
    assert!(cognito_ext_authz::policy::Policy::parse(&prefix).is_ok());
    let mut service = Service::start_in(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_POLICY_QUIET_MS", "1500")],
        false,
    );
    service.wait_ready().await;
    let mut client = service.client().await;
    let files = bearer(&access_claims("files/read"));
    let admin_request = || {
        request(
            "GET",
            "admin.example.com",
            "/files/report",
            &[("authorization", files.as_str())],
        )
    };
    assert_eq!(check(&mut client, admin_request()).await.status, 401);

    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(service.policy_path())
        .unwrap();
    f.write_all(prefix.as_bytes()).unwrap();
    f.flush().unwrap();
    // While the writer pauses, the half-written file must not go into force.
    let pause = Instant::now();
    while pause.elapsed() < Duration::from_millis(800) {
        let a = check(&mut client, admin_request()).await;
        assert_eq!(
            a.status, 401,
            "a half-written policy went into force: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f.write_all(&full.as_bytes()[prefix.len()..]).unwrap();
    drop(f);
    // The complete file is read once it has been quiet.
    let deadline = Instant::now() + Duration::from_secs(30);
    while check(&mut client, request("GET", "h", "/probe", &[]))
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "{}", service.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(check(&mut client, admin_request()).await.status, 401);
    let metrics = service.metrics().await;
    assert!(
        metrics.contains(r#"cognito_ext_authz_policy_reloads_total{result="success"} 2"#),
        "exactly one reload, of the complete file:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_does_not_wake_itself() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let mut service = Service::start_in(BIN, &policy(&keys, ROUTES), &[], false);
    service.wait_ready().await;
    // Count opens of the policy file while nothing changes it.
    let opens = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = opens.clone();
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e
            && matches!(
                e.kind,
                notify::EventKind::Access(notify::event::AccessKind::Open(_))
            )
        {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    })
    .unwrap();
    watcher
        .watch(&service.policy_path(), notify::RecursiveMode::NonRecursive)
        .unwrap();
    // The service polls every second (tests' AUTHZ_POLICY_POLL_SECONDS): three polls.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        opens.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the unchanged policy file was re-read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_log_reader_drops_lines_instead_of_stalling_checks() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let policy_path = write(dir.path(), "policy.yaml", &policy(&keys, ROUTES));
    let grpc = free_port();
    let admin = free_port();
    // stderr is a pipe nobody reads: the writer blocks once the pipe's buffer is full.
    let mut child = std::process::Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("AUTHZ_LISTEN_ADDR", grpc.to_string())
        .env("AUTHZ_ADMIN_ADDR", admin.to_string())
        .env("AUTHZ_POLICY_PATH", &policy_path)
        .env("AUTHZ_LOG_QUEUE_LINES", "64")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut client = loop {
        if let Ok(c) = cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient::connect(
            format!("http://{grpc}"),
        )
        .await
        {
            break c;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // 60 KB paths (no route: 403, each logged). Before, the lossless queue grew by
    // ~194 MiB and then every check stalled behind it; a stall fails here, not hangs.
    let long_path = format!("/{}", "a".repeat(60_000));
    tokio::time::timeout(Duration::from_secs(120), async {
        for _ in 0..2_000 {
            let a = check(
                &mut client,
                request("GET", "api.example.com", &long_path, &[]),
            )
            .await;
            assert_eq!(a.status, 403);
        }
    })
    .await
    .expect("checks stalled behind the log");
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cognito_ext_authz_log_lines_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(dropped > 0, "no dropped lines counted:\n{metrics}");
    let rss = rss_kib(child.id());
    eprintln!(
        "RSS after 2,000 logged 60 KB paths, stderr never read: {rss} KiB, {dropped} lines dropped"
    );
    assert!(rss < 128 * 1024, "RSS {rss} KiB");
    let _ = child.kill();
    let _ = child.wait();
}

/// The latency histogram keeps each check's sample until it is folded into its buckets: a
/// thread of the service folds them every few seconds, so a service that nobody scrapes
/// does not keep 8 bytes per check forever.
#[tokio::test(flavor = "multi_thread")]
async fn histogram_samples_are_folded_without_a_scrape() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", service.pid()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_owned())
        .collect();
    assert!(threads.iter().any(|t| t == "metrics-upkeep"), "{threads:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_carry_the_same_bounded_decision_line_without_the_token() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let mut service = Service::start(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_LOG_FORMAT", "text"), ("RUST_LOG", "info")],
    );
    service.wait_ready().await;
    let mut claims = access_claims("files/read");
    claims["sub"] = json!("user with spaces");
    let token = key(0).sign(&claims);
    let mut client = service.client().await;
    let path = format!("/files/report?access_token={token}&x={}", "\n".repeat(3));
    let a = check(
        &mut client,
        request(
            "GET",
            "api.example.com",
            &path,
            &[("authorization", &format!("Bearer {token}"))],
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let logs = service.logs();
        if let Some(line) = logs.lines().find(|l| l.contains(" INFO decision: ")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no decision line:\n{logs}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        line.contains("decision=allow reason=authorized detail=\"\" route=files "),
        "{line}"
    );
    assert!(line.contains(" path=/files/report "), "{line}");
    assert!(line.contains(r#" sub="user with spaces" "#), "{line}");
    assert!(
        !service.logs().contains(&token[20..60]),
        "a token was logged"
    );
}
