use super::*;

#[test]
fn variables_that_are_not_utf8_are_skipped_unless_they_are_ours() {
    use std::os::unix::ffi::OsStringExt;
    let os = |b: &[u8]| std::ffi::OsString::from_vec(b.to_vec());
    let vars = vec![
        (os(b"LANG_\xff"), os(b"x")),
        (os(b"OTHER"), os(b"caf\xe9")),
        (os(b"AUTHZ_\xff"), os(b"1")),
        (os(b"AUTHZ_DRAIN_SECONDS"), os(b"9")),
    ];
    assert_eq!(
        text_vars(vars).unwrap(),
        vec![("AUTHZ_DRAIN_SECONDS".to_owned(), "9".to_owned())]
    );
    let e = text_vars(vec![(os(b"AUTHZ_POLICY_PATH"), os(b"/etc/p\xe9.yaml"))])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "cannot read AUTHZ_* settings: the value of AUTHZ_POLICY_PATH is not UTF-8 text"
    );
}

/// The settings `vars` make, and the warnings.
fn from_vars(vars: &[(&str, &str)]) -> Result<(Settings, Vec<String>), SettingsError> {
    Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    from_vars(vars).unwrap().0
}

fn error(vars: &[(&str, &str)]) -> SettingsError {
    from_vars(vars).unwrap_err()
}

/// What a numeric setting became, in the variable's unit (`0` for "off" or "one per CPU",
/// as the variable spells them).
type Reads = fn(&Settings) -> u64;

/// Where each numeric setting lands.
fn numeric_fields() -> [(&'static spec::Number, Reads); 16] {
    use spec::*;
    [
        (&DRAIN_SECONDS, |s| s.drain.as_secs()),
        (&JWKS_REFRESH_SECONDS, |s| s.jwks_refresh.as_secs()),
        (&JWKS_COOLDOWN_SECONDS, |s| s.jwks_cooldown.as_secs()),
        (&JWKS_TIMEOUT_SECONDS, |s| s.jwks_timeout.as_secs()),
        (&TOKEN_CACHE_ENTRIES, |s| s.token_cache_entries),
        (&POLICY_POLL_SECONDS, |s| s.policy_poll.as_secs()),
        (&POLICY_QUIET_MS, |s| s.policy_quiet.as_millis() as u64),
        (&MAX_REQUEST_BYTES, |s| s.max_request_bytes as u64),
        (&MAX_CONNECTIONS, |s| s.max_connections as u64),
        (&MAX_STREAMS_PER_CONNECTION, |s| {
            s.max_streams_per_connection.into()
        }),
        (&MAX_IN_FLIGHT, |s| s.max_in_flight as u64),
        (&REQUEST_TIMEOUT_SECONDS, |s| s.request_timeout.as_secs()),
        (&IDLE_TIMEOUT_SECONDS, |s| {
            s.idle_timeout.map_or(0, |d| d.as_secs())
        }),
        (&WORKER_THREADS, |s| {
            s.worker_threads.map_or(0, |n| n as u64)
        }),
        (&ADMIN_MAX_CONNECTIONS, |s| s.admin_max_connections as u64),
        (&LOG_QUEUE_LINES, |s| s.log_queue_lines as u64),
    ]
}

/// Where each on/off setting lands.
type ReadsFlag = fn(&Settings) -> bool;
fn flag_fields() -> [(&'static spec::Flag, ReadsFlag); 2] {
    [
        (&spec::REFLECTION, |s| s.reflection),
        (&spec::DYNAMIC_METADATA, |s| s.dynamic_metadata),
    ]
}

#[test]
fn every_number_and_flag_has_its_default_and_range() {
    let unset = settings(&[]);
    for (setting, reads) in numeric_fields() {
        let (name, min, max) = (setting.name, setting.min, setting.max);
        assert_eq!(reads(&unset), setting.default, "{name} unset");
        for accepted in [min, max] {
            let s = settings(&[(name, &format!(" {accepted} "))]);
            assert_eq!(reads(&s), accepted, "{name}={accepted}");
        }
        // One past each end; below 0 is "-1", which is no whole number either.
        let below = min
            .checked_sub(1)
            .map_or("-1".to_owned(), |n| n.to_string());
        for refused in [below, (max + 1).to_string(), "lots".to_owned()] {
            let err = error(&[(name, &refused)]);
            assert_eq!(err.setting, name, "{err}");
            assert_eq!(
                err.to_string(),
                format!("{name}: \"{refused}\" is not a whole number from {min} to {max}")
            );
        }
    }
    for (setting, reads) in flag_fields() {
        let name = setting.name;
        assert_eq!(reads(&unset), setting.default, "{name} unset");
        for (spelling, value) in [("true", true), ("false", false), (" true ", true)] {
            assert_eq!(
                reads(&settings(&[(name, spelling)])),
                value,
                "{name}={spelling:?}"
            );
        }
        assert_eq!(
            error(&[(name, "yes")]).to_string(),
            format!("{name}: \"yes\" is not one of \"true\", \"false\"")
        );
    }
    // The two tables and the five other kinds below hold every setting the service reads.
    let mut covered: Vec<&str> = numeric_fields().iter().map(|s| s.0.name).collect();
    covered.extend(flag_fields().iter().map(|s| s.0.name));
    covered.extend([
        spec::LISTEN_ADDR.name,
        spec::ADMIN_ADDR.name,
        spec::HTTP_AUTH_ADDR.name,
        spec::POLICY_PATH.name,
        spec::REVOCATIONS_PATH.name,
        spec::LOG_FORMAT.name,
        spec::TLS_CERT_FILE.name,
        spec::TLS_KEY_FILE.name,
        spec::TLS_CLIENT_CA_FILE.name,
    ]);
    covered.sort();
    let mut known = ALL.map(|s| s.name()).to_vec();
    known.sort();
    assert_eq!(covered, known);
}

#[test]
fn the_documented_settings_table_gives_every_default_and_range() {
    // docs/running.md is what users read; the chart's schema is held to its ranges by
    // the deploy tests.
    let doc = include_str!("../../docs/running.md");
    let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `AUTHZ_")).collect();
    let range = regex::Regex::new(r"\((?:[^()]*; )?(\d+) to (\d+)\)").unwrap();
    for s in ALL.iter() {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", s.name())))
            .unwrap_or_else(|| panic!("docs/running.md has no row for {}", s.name()));
        let cells: Vec<&str> = row.split(" | ").collect();
        let documented = cells[1];
        let default = s.default_text();
        let expected = match default.as_str() {
            "unset" => "unset".to_owned(),
            "0" if s.name() == spec::WORKER_THREADS.name => "CPUs".to_owned(),
            d => format!("`{d}`"),
        };
        assert_eq!(documented, expected, "the default of {}", s.name());
        let found = range.captures(row).map(|c| {
            let n = |i: usize| c[i].parse::<u64>().unwrap();
            (n(1), n(2))
        });
        assert_eq!(found, s.range(), "the range of {} in: {row}", s.name());
    }
    assert_eq!(
        rows.len(),
        ALL.len(),
        "a documented AUTHZ_ variable the service does not read"
    );
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let help = spec::help_text();
    for s in ALL.iter() {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", s.name())))
            .unwrap_or_else(|| panic!("{} missing from:\n{help}", s.name()));
        let default = match s.default_text().as_str() {
            "unset" => "(unset by default)".to_owned(),
            d => format!("(default {d}"),
        };
        assert!(line.contains(&default), "{line}");
    }
    assert!(help.contains("AUTHZ_MAX_CONNECTIONS  open gRPC connections; more wait in the listen backlog (default 512, 1 to 1000000)"), "{help}");
}

#[test]
fn defaults_of_the_other_kinds() {
    let s = settings(&[]);
    assert_eq!(s.listen_addr, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(s.admin_addr, "0.0.0.0:9090".parse().unwrap());
    assert_eq!(
        s.policy_path,
        PathBuf::from("/etc/cognito-ext-authz/policy.yaml")
    );
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.tls, None);
    assert_eq!(s.revocations_path, None);
    assert_eq!(
        s.http_auth_addr, None,
        "the HTTP authorization port is off by default"
    );
    assert_eq!(s, Settings::default());
}

#[test]
fn unknown_authz_variables_are_named_in_a_warning_and_ignored() {
    let (s, warnings) = from_vars(&[
        ("AUTHZ_TOKEN_CACHE_ENTRYS", "5"),
        ("AUTHZ_TOKEN_CACHE_ENTRIES", "7"),
        // Only the exact name is read.
        ("AUTHZ_drain_seconds", "60"),
        ("PATH", "/usr/bin"),
        ("XAUTHZ_TOKEN_CACHE_ENTRYS", "5"),
        ("authz_token_cache_entrys", "5"),
    ])
    .unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for (warning, name) in warnings
        .iter()
        .zip(["AUTHZ_TOKEN_CACHE_ENTRYS", "AUTHZ_drain_seconds"])
    {
        let known = ALL.map(|s| s.name()).join(", ");
        assert_eq!(
            warning,
            &format!("ignoring unknown setting {name} (known: {known})")
        );
        assert!(warning.contains("AUTHZ_TOKEN_CACHE_ENTRIES, "));
    }
    assert_eq!(s.token_cache_entries, 7);
    assert_eq!(s.drain, Duration::from_secs(5), "AUTHZ_drain_seconds used");
}

#[test]
fn known_variables_give_no_warning() {
    let mut vars: Vec<(&str, String)> = numeric_fields()
        .iter()
        .map(|(s, _)| (s.name, s.min.to_string()))
        .collect();
    vars.extend(flag_fields().map(|(s, _)| (s.name, "false".to_owned())));
    vars.extend(
        [
            ("AUTHZ_LISTEN_ADDR", "127.0.0.1:9000"),
            ("AUTHZ_ADMIN_ADDR", "127.0.0.1:9090"),
            ("AUTHZ_HTTP_AUTH_ADDR", "127.0.0.1:9001"),
            ("AUTHZ_POLICY_PATH", "/p/policy.yaml"),
            ("AUTHZ_REVOCATIONS_PATH", "/p/revocations.yaml"),
            ("AUTHZ_LOG_FORMAT", "text"),
            ("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt"),
            ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
            ("AUTHZ_TLS_CLIENT_CA_FILE", "/tls/ca.crt"),
        ]
        .map(|(k, v)| (k, v.to_owned())),
    );
    assert_eq!(vars.len(), ALL.len());
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, warnings) = from_vars(&vars).unwrap();
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(s.log_format, LogFormat::Text, "the variables were read");
    assert_eq!(s.admin_addr, "127.0.0.1:9090".parse().unwrap());
    assert_eq!(s.http_auth_addr, Some("127.0.0.1:9001".parse().unwrap()));
    assert_eq!(s.policy_path, PathBuf::from("/p/policy.yaml"));
    assert_eq!(
        s.revocations_path,
        Some(PathBuf::from("/p/revocations.yaml"))
    );
}

#[test]
fn tls_takes_cert_and_key_and_optionally_a_client_ca() {
    let tls = settings(&[
        ("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt"),
        ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
    ])
    .tls
    .unwrap();
    assert_eq!(tls.cert, PathBuf::from("/tls/tls.crt"));
    assert_eq!(tls.key, PathBuf::from("/tls/tls.key"));
    assert_eq!(tls.client_ca, None);
    let tls = settings(&[
        ("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt"),
        ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
        ("AUTHZ_TLS_CLIENT_CA_FILE", "/tls/ca.crt"),
    ])
    .tls
    .unwrap();
    assert_eq!(tls.client_ca, Some(PathBuf::from("/tls/ca.crt")));
}

#[test]
fn zero_turns_timeouts_and_worker_choice_off() {
    let s = settings(&[
        ("AUTHZ_IDLE_TIMEOUT_SECONDS", "0"),
        ("AUTHZ_WORKER_THREADS", "3"),
    ]);
    assert_eq!(s.idle_timeout, None);
    assert_eq!(s.worker_threads, Some(3));
    assert_eq!(
        settings(&[("AUTHZ_WORKER_THREADS", "0")]).worker_threads,
        None
    );
}

#[test]
fn bad_values_name_the_variable_and_say_what_it_should_be() {
    let cases: [(&[(&str, &str)], &str); 14] = [
        (
            &[("AUTHZ_HTTP_AUTH_ADDR", "9001")],
            r#"AUTHZ_HTTP_AUTH_ADDR: "9001" is not an address with a port (like 0.0.0.0:9001 or [::]:9000)"#,
        ),
        (
            &[("AUTHZ_HTTP_AUTH_ADDR", " ")],
            "AUTHZ_HTTP_AUTH_ADDR: must not be empty (unset it to keep the HTTP authorization port off)",
        ),
        (
            &[("AUTHZ_LISTEN_ADDR", "9000")],
            r#"AUTHZ_LISTEN_ADDR: "9000" is not an address with a port (like 0.0.0.0:9000 or [::]:9000)"#,
        ),
        (
            &[("AUTHZ_ADMIN_ADDR", "localhost")],
            r#"AUTHZ_ADMIN_ADDR: "localhost" is not an address with a port (like 0.0.0.0:9090 or [::]:9000)"#,
        ),
        (
            &[("AUTHZ_LOG_FORMAT", "xml")],
            r#"AUTHZ_LOG_FORMAT: "xml" is not one of "json", "text""#,
        ),
        (
            &[("AUTHZ_POLICY_PATH", " ")],
            "AUTHZ_POLICY_PATH: must not be empty",
        ),
        (
            &[("AUTHZ_REVOCATIONS_PATH", " ")],
            "AUTHZ_REVOCATIONS_PATH: must not be empty (unset it for no revocation list)",
        ),
        (
            &[("AUTHZ_MAX_CONNECTIONS", "0")],
            r#"AUTHZ_MAX_CONNECTIONS: "0" is not a whole number from 1 to 1000000"#,
        ),
        (
            &[("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt")],
            "AUTHZ_TLS_KEY_FILE: not set, but AUTHZ_TLS_CERT_FILE is (TLS needs both or neither)",
        ),
        (
            &[("AUTHZ_TLS_KEY_FILE", "/tls/tls.key")],
            "AUTHZ_TLS_CERT_FILE: not set, but AUTHZ_TLS_KEY_FILE is (TLS needs both or neither)",
        ),
        (
            &[("AUTHZ_TLS_CLIENT_CA_FILE", "/tls/ca.crt")],
            "AUTHZ_TLS_CLIENT_CA_FILE: needs AUTHZ_TLS_CERT_FILE and AUTHZ_TLS_KEY_FILE (mTLS is TLS with client certificates)",
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", " "),
                ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
            ],
            "AUTHZ_TLS_CERT_FILE: must not be empty",
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt"),
                ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
                ("AUTHZ_TLS_CLIENT_CA_FILE", ""),
            ],
            "AUTHZ_TLS_CLIENT_CA_FILE: must not be empty",
        ),
        (
            &[("AUTHZ_DYNAMIC_METADATA", "yes")],
            r#"AUTHZ_DYNAMIC_METADATA: "yes" is not one of "true", "false""#,
        ),
    ];
    for (vars, message) in cases {
        assert_eq!(error(vars).to_string(), message, "{vars:?}");
    }
    assert!(settings(&[("AUTHZ_DYNAMIC_METADATA", " true")]).dynamic_metadata);
}
