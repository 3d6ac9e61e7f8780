//! The rules a policy's values must follow, in one place: the loader enforces them and
//! `import` checks what it writes against the same functions.

/// Methods a route may name (API Gateway's set); `ANY` means every method.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// A header name the token may be read from: letters, digits, `-` and `_`.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A scope or group name: not empty, no white space or control characters.
pub fn is_scope_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `REGION_SUFFIX`, where the region looks like `ap-south-1` or `us-gov-west-1`.
pub fn pool_region(id: &str) -> Option<&str> {
    let (region, suffix) = id.split_once('_')?;
    let parts: Vec<&str> = region.split('-').collect();
    let region_ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    let suffix_ok = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && suffix_ok).then_some(region)
}

/// Whether a URL may be used to fetch keys: HTTPS, or plain HTTP to a loopback address.
pub(crate) fn check_fetch_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    // Checked first, and the URL not repeated: a password in it would be printed by every
    // message and log line that names the URL.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL carries credentials (user:password@), which would be printed and logged wherever the URL is; a key set is public, fetched without them".to_owned(),
        );
    }
    if url.host_str().is_none() {
        return Err(format!("{raw:?} has no host"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "{raw:?} uses plain http; only https is allowed, except for loopback addresses"
        )),
        other => Err(format!("{raw:?} uses {other}:, not https:")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(crate) fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("{issuer:?} is not an http(s) URL"));
    }
    Ok(())
}

/// The largest compiled size of an identity validation expression.
const EXPRESSION_SIZE_LIMIT: usize = 1 << 20;

/// An `identityValidationExpression`, compiled to match the whole `aud` as API Gateway
/// does (Java's `matches`), whoever wrote it: `clientA` takes `clientA`, never
/// `xxclientAxx`. The expression must be a regular expression on its own (so its groups
/// are balanced and wrapping it cannot change its structure), and is then wrapped in
/// `\A(?:...)\z`, which no flag inside it (`(?m)`) can loosen; an expression that is
/// already anchored (`^...$`, as `import` writes it) means the same once wrapped.
pub(crate) fn whole_match_expression(expression: &str) -> Result<regex::Regex, String> {
    let build = |pattern: &str| {
        regex::RegexBuilder::new(pattern)
            .size_limit(EXPRESSION_SIZE_LIMIT)
            .build()
    };
    build(expression).map_err(|e| format!("{expression:?} is not a regular expression: {e}"))?;
    // A trailing `(?x)` comment would swallow the closing part: refused, not loosened.
    build(&format!(r"\A(?:{expression})\z"))
        .map_err(|e| format!("{expression:?} cannot be anchored to match the whole aud: {e}"))
}

/// Why a header can never carry a claim, when it cannot: a header a proxy or the upstream
/// reads as part of HTTP itself (connection handling, framing, routing, the client's
/// origin, credentials, tracing, Envoy's own controls). A claim value written there would
/// override what Envoy set or desync what it frames, so such names are refused at load.
/// `name` is lower case with `_` already read as `-`; a name that ends with `-` stands for
/// every name it starts (`x-forwarded-` is `x-forwarded-for`, `x-forwarded-host`, ...).
pub(crate) fn reserved_header(name: &str) -> Option<&'static str> {
    if name.starts_with(':') {
        return Some("a pseudo-header");
    }
    RESERVED_HEADERS
        .iter()
        .find(|(names, _)| {
            names.iter().any(|n| match n.strip_suffix('-') {
                Some(_) => name.starts_with(n) && name.len() > n.len(),
                None => name == *n,
            })
        })
        .map(|(_, why)| *why)
}

/// The header classes [`reserved_header`] refuses, each with the reason shown; the README
/// lists the same classes.
const RESERVED_HEADERS: [(&[&str], &str); 6] = [
    (
        &[
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "http2-settings",
        ],
        "a hop-by-hop header (connection handling)",
    ),
    (
        &["content-", "expect"],
        "a framing or body header (how the message body is read)",
    ),
    (
        &[
            "host",
            "forwarded",
            "x-forwarded-",
            "x-real-ip",
            "true-client-ip",
            "x-client-ip",
            "via",
            "max-forwards",
            "x-original-url",
            "x-rewrite-url",
            "x-original-uri",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
        ],
        "a routing or origin header (which host, path, method or client proxies and frameworks see)",
    ),
    (
        &[
            "authorization",
            "proxy-authorization",
            "proxy-authenticate",
            "www-authenticate",
            "cookie",
            "set-cookie",
        ],
        "a credential header",
    ),
    (
        &[
            "x-envoy-",
            "x-request-id",
            "x-client-trace-id",
            "grpc-",
            "x-amzn-",
        ],
        "a header a proxy sets for the upstream or reads as its own control (Envoy, gRPC, AWS load balancers)",
    ),
    (
        &[
            "traceparent",
            "tracestate",
            "baggage",
            "b3",
            "x-b3-",
            "x-ot-span-context",
            "uber-trace-id",
            "uberctx-",
            "x-cloud-trace-context",
            "x-datadog-",
            "sw8",
        ],
        "a tracing header",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expression_matches_the_whole_aud() {
        let matches =
            |expression: &str, aud: &str| whole_match_expression(expression).unwrap().is_match(aud);
        assert!(matches("clientA", "clientA"));
        for aud in ["xxclientAxx", "clientAx", "xclientA", "clientA\n", ""] {
            assert!(!matches("clientA", aud), "{aud:?}");
        }
        // Alternation stays inside the anchors.
        assert!(matches("a|b", "b"));
        assert!(!matches("a|b", "ab") && !matches("a|b", "xb"));
        // As import writes it: the same once anchored again.
        assert!(matches("^(?:cust)$", "cust") && !matches("^(?:cust)$", "custx"));
        assert!(matches("^[0-9a-z]{26}$", &"a".repeat(26)));
        // A flag inside cannot loosen the anchors outside.
        assert!(!matches("(?m)^a$", "x\na") && !matches("(?m)^a$", "a\nx"));
        assert!(matches("(?x) a b # comment\n", "ab"));
        let err = whole_match_expression("(?x)ab # comment").unwrap_err();
        assert!(err.contains("cannot be anchored"), "{err}");
        let err = whole_match_expression("([a-z").unwrap_err();
        assert!(err.contains("is not a regular expression"), "{err}");
        // Unbalanced on its own, balanced once wrapped: refused, never compiled loosened.
        let err = whole_match_expression("a)|(b").unwrap_err();
        assert!(err.contains("is not a regular expression"), "{err}");
    }

    #[test]
    fn headers_proxies_or_upstreams_interpret_are_reserved() {
        for (name, class) in [
            (":path", "pseudo"),
            ("connection", "hop-by-hop"),
            ("proxy-connection", "hop-by-hop"),
            ("upgrade", "hop-by-hop"),
            ("content-length", "framing"),
            ("content-encoding", "framing"),
            ("expect", "framing"),
            ("x-forwarded-for", "routing"),
            ("x-forwarded-proto", "routing"),
            ("forwarded", "routing"),
            ("x-real-ip", "routing"),
            ("authorization", "credential"),
            ("cookie", "credential"),
            ("x-envoy-upstream-service-time", "proxy"),
            ("x-request-id", "proxy"),
            ("grpc-timeout", "proxy"),
            ("traceparent", "tracing"),
            ("tracestate", "tracing"),
            ("b3", "tracing"),
            ("x-b3-spanid", "tracing"),
        ] {
            let why = reserved_header(name).unwrap_or_else(|| panic!("{name} is reserved"));
            assert!(why.contains(class), "{name}: {why}");
        }
        for name in [
            "x-user-email",
            "x-forwarded",
            "x-envoy",
            "b3x",
            "x-b3",
            "contents",
            "x-tenant",
        ] {
            assert_eq!(reserved_header(name), None, "{name}");
        }
    }
}
