//! Properties an authorizer must have, on generated input (`proptest`):
//!
//! - path splitting agrees with a small reference model of docs/policy.md's rules;
//! - route matching agrees with a reference model of "most specific wins";
//! - host normalization never yields anything but a plain lower-case host, and one host in
//!   any accepted form is one host;
//! - no mutation of a valid token is ever allowed, and the token parser never panics;
//! - the policy loader never panics, whatever the YAML.
//!
//! Why one file of this length: each property sits beside the small reference model and the
//! generators it is checked against; the models are read with their property, and split
//! over several files they would only be harder to compare.

use std::sync::Arc;

use cognito_ext_authz::active::ActivePolicy;
use cognito_ext_authz::credential::Headers;
use cognito_ext_authz::decision::Decision;
use cognito_ext_authz::pipeline::{Pipeline, Request};
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::token::keys::{PoolKeys, parse_jwks};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Paths

/// The path rules of docs/decisions.md, written plainly: query dropped; a '#', ';', '\', control
/// character, bad or separator-producing percent-encoding, '.'/'..' or empty segment, or a
/// path not starting with '/' is refused; one trailing slash ignored; segments decoded.
fn reference_segments(raw: &str) -> Option<Vec<String>> {
    let path = raw.split('?').next().unwrap();
    if !path.starts_with('/') || path.contains(['#', ';', '\\']) {
        return None;
    }
    let mut body = &path[1..];
    if body.ends_with('/') {
        body = &body[..body.len() - 1];
    }
    if body.is_empty() {
        return Some(vec![]);
    }
    let mut out = Vec::new();
    for seg in body.split('/') {
        if seg.is_empty() {
            return None;
        }
        let mut bytes = Vec::new();
        let mut chars = seg.bytes();
        while let Some(b) = chars.next() {
            if b == b'%' {
                let hex: String = [chars.next()?, chars.next()?]
                    .iter()
                    .map(|&c| c as char)
                    .collect();
                let v = u8::from_str_radix(&hex, 16).ok()?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                bytes.push(v);
            } else {
                bytes.push(b);
            }
        }
        if bytes
            .iter()
            .any(|b| b.is_ascii_control() || matches!(b, b'/' | b'\\' | b';'))
            || seg.bytes().any(|b| b.is_ascii_control())
        {
            return None;
        }
        let s = String::from_utf8(bytes).ok()?;
        if s == "." || s == ".." {
            return None;
        }
        // Decoded a second time (as some servers do), no separator, `;`, control
        // character, or dot segment may appear.
        let mut again = Vec::new();
        let sb = s.as_bytes();
        let mut i = 0;
        while i < sb.len() {
            let pair = sb
                .get(i + 1..i + 3)
                .filter(|p| p.iter().all(u8::is_ascii_hexdigit));
            match pair {
                Some(p) if sb[i] == b'%' => {
                    let v = u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap();
                    if v.is_ascii_control() || matches!(v, b'/' | b'\\' | b';') {
                        return None;
                    }
                    again.push(v);
                    i += 3;
                }
                _ => {
                    again.push(sb[i]);
                    i += 1;
                }
            }
        }
        if again == b"." || again == b".." {
            return None;
        }
        out.push(s);
    }
    (out.len() <= 128).then_some(out)
}

fn path_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "/", "/", "/", "a", "b", "users", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%3b",
        "%3B", ";", "#", "?", "\\", "%", "%4", "%41", "%zz", "%c3%a9", "%ff", "%00", "\t", " ",
        "é", "x=1", "%20",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn path_splitting_agrees_with_the_reference(raw in path_strategy()) {
        let got = cognito_ext_authz::path::segments(&raw)
            .ok()
            .map(|v| v.into_iter().map(|s| s.into_owned()).collect::<Vec<_>>());
        prop_assert_eq!(got, reference_segments(&raw), "path {:?}", raw);
    }
}

// ---------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Literal,
    Param,
    Greedy,
}

#[derive(Debug, Clone)]
struct ModelRoute {
    segments: Vec<String>,
    method: Option<&'static str>,
    host: Option<&'static str>,
}

impl ModelRoute {
    fn kinds(&self, path_len: usize) -> Option<Vec<Kind>> {
        let mut kinds = Vec::new();
        for (i, s) in self.segments.iter().enumerate() {
            if s.ends_with("+}") {
                if path_len <= i {
                    return None;
                }
                kinds.extend(std::iter::repeat_n(Kind::Greedy, path_len - i));
                return Some(kinds);
            }
            kinds.push(if s.starts_with('{') {
                Kind::Param
            } else {
                Kind::Literal
            });
        }
        (kinds.len() == path_len).then_some(kinds)
    }

    fn matches_path(&self, path: &[&str]) -> Option<Vec<Kind>> {
        let kinds = self.kinds(path.len())?;
        let literal_ok = self
            .segments
            .iter()
            .zip(path)
            .all(|(s, p)| s.starts_with('{') || s == p);
        literal_ok.then_some(kinds)
    }

    fn host_rank(&self, host: &str) -> Option<(u8, usize)> {
        match self.host {
            None => Some((2, 0)),
            Some(h) if h.starts_with("*.") => {
                let suffix = &h[1..];
                (host.len() > suffix.len() && host.ends_with(suffix))
                    .then_some((1, usize::MAX - suffix.len()))
            }
            Some(h) => (h == host).then_some((0, 0)),
        }
    }
}

/// The matching rule of docs/policy.md: of the routes matching path, method and host, the most specific
/// path (segment by segment: literal, then `{x}`, then `{x+}`), then a named method over
/// any, then an exact host over the longest wildcard over any.
fn reference_route(
    routes: &[ModelRoute],
    path: &[&str],
    method: &str,
    host: &str,
) -> Option<usize> {
    routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let kinds = r.matches_path(path)?;
            if r.method.is_some_and(|m| m != method) {
                return None;
            }
            let host_rank = r.host_rank(host)?;
            Some(((kinds, r.method.is_none(), host_rank), i))
        })
        .min()
        .map(|(_, i)| i)
}

fn routes_strategy() -> impl Strategy<Value = Vec<ModelRoute>> {
    let segment = prop::sample::select(vec!["a", "b", "{x}"]);
    let template =
        (prop::collection::vec(segment, 0..4), any::<bool>()).prop_map(|(mut s, greedy)| {
            // Parameter names must differ within a template.
            let mut v: Vec<String> = s
                .drain(..)
                .enumerate()
                .map(|(i, seg)| {
                    if seg == "{x}" {
                        format!("{{x{i}}}")
                    } else {
                        seg.to_owned()
                    }
                })
                .collect();
            if greedy {
                v.push("{rest+}".to_owned());
            }
            v
        });
    let method = prop::sample::select(vec![None, Some("GET"), Some("POST")]);
    let host = prop::sample::select(vec![
        None,
        Some("a.example.com"),
        Some("*.example.com"),
        Some("*.a.example.com"),
    ]);
    prop::collection::vec(
        (template, method, host).prop_map(|(segments, method, host)| ModelRoute {
            segments,
            method,
            host,
        }),
        1..10,
    )
    .prop_map(|routes| {
        // The loader refuses two routes with the same shape, method and host.
        let mut seen = std::collections::HashSet::new();
        routes
            .into_iter()
            .filter(|r| {
                let shape: Vec<&str> = r
                    .segments
                    .iter()
                    .map(|s| if s.starts_with('{') { "{}" } else { s.as_str() })
                    .collect();
                seen.insert((shape.join("/"), r.method, r.host))
            })
            .collect()
    })
}

fn policy_yaml(routes: &[ModelRoute]) -> String {
    let mut yaml = String::from(
        "userPools:\n  - id: ap-south-1_abcdefghi\n    jwksUri: http://127.0.0.1:1/jwks.json\nroutes:\n",
    );
    for (i, r) in routes.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: r{i}\n    path: /{}\n",
            r.segments.join("/")
        ));
        if let Some(m) = r.method {
            yaml.push_str(&format!("    methods: [{m}]\n"));
        }
        if let Some(h) = r.host {
            yaml.push_str(&format!("    hosts: [\"{h}\"]\n"));
        }
    }
    yaml
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn route_matching_agrees_with_the_reference(
        routes in routes_strategy(),
        path in prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..5),
        method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        host in prop::sample::select(vec!["a.example.com", "b.a.example.com", "x.example.com", "example.com", ""]),
    ) {
        let yaml = policy_yaml(&routes);
        let policy = Policy::parse(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        let got = policy
            .routes
            .find(&path, method, host)
            .map(|r| r.name.to_string());
        let want = reference_route(&routes, &path, method, host).map(|i| format!("r{i}"));
        prop_assert_eq!(got, want, "{} {} on {:?}\n{}", method, path.join("/"), host, yaml);
    }
}

// ---------------------------------------------------------------------------------------
// Hosts

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn host_normalization_yields_a_plain_host_and_one_host_is_one_host(
        raw in "[a-zA-Z0-9._\\-:@\\[\\] ,%]{0,24}",
        port in 0u32..70000,
    ) {
        if let Ok(h) = cognito_ext_authz::host::normalize(raw.as_bytes()) {
            let v6 = raw.starts_with('[');
            prop_assert!(h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()
                || matches!(b, b'.' | b'-' | b'_') || (v6 && b == b':')), "{:?} -> {:?}", raw, h);
            prop_assert!(!h.ends_with('.') && !h.starts_with('.') && !h.contains(".."));
            if !v6 && !h.is_empty() {
                // The same host, upper-cased or with any valid port, is the same host.
                prop_assert_eq!(cognito_ext_authz::host::normalize(h.as_bytes()), Ok(h.clone()));
                let upper = h.to_ascii_uppercase();
                prop_assert_eq!(cognito_ext_authz::host::normalize(upper.as_bytes()), Ok(h.clone()));
                let with_port = format!("{h}:{port}");
                let want = if port <= 65_535 { Ok(h.clone()) } else {
                    Err(cognito_ext_authz::host::BadHost::BadPort)
                };
                prop_assert_eq!(cognito_ext_authz::host::normalize(with_port.as_bytes()), want);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tokens

mod token_fixture {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;
    use std::sync::OnceLock;

    pub const POOL: &str = "ap-south-1_abcdefghi";

    pub struct Fixture {
        pub authorizer: Pipeline,
        pub token: String,
        pub runtime: tokio::runtime::Runtime,
    }

    pub fn get() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
            let public = private.to_public_key();
            let jwks = json!({"keys": [{
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }]});
            let yaml = format!(
                "userPools:\n  - id: {POOL}\n    jwksUri: http://127.0.0.1:1/jwks.json\nroutes:\n  - path: /p\n    scopes: [s/read]\n"
            );
            let policy = Policy::parse(&yaml).unwrap();
            let keys = vec![Arc::new(PoolKeys::fixed(
                POOL,
                parse_jwks(jwks.to_string().as_bytes()).unwrap(),
            ))];
            let authorizer = Pipeline::new(ActivePolicy { policy, keys, generation: 1 }, 1000);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let claims = json!({
                "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "iss": format!("https://cognito-idp.ap-south-1.amazonaws.com/{POOL}"),
                "client_id": "4example23456789abc", "token_use": "access",
                "scope": "s/read", "exp": now + 3600, "iat": now - 10,
                "jti": "j1", "username": "alice",
            });
            let der = private.to_pkcs1_der().unwrap();
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some("k1".into());
            let token = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
            )
            .unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            Fixture { authorizer, token, runtime }
        })
    }

    pub fn decide(token: &str) -> Decision {
        let f = get();
        let request = Request::new(
            "GET",
            "api.example.com",
            "/p",
            Headers::from_lines(vec![(
                "authorization".into(),
                format!("Bearer {token}").into_bytes(),
            )]),
        );
        f.runtime.block_on(f.authorizer.decide(&request))
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace byte `at` (modulo length) with `with`.
    Byte(usize, u8),
    /// Remove `len` bytes at `at`.
    Cut(usize, usize),
    /// Insert text at `at`.
    Insert(usize, String),
    /// Replace part `part` (0 header, 1 claims, 2 signature) with base64url of `json`.
    Part(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Byte(a, b)),
        (any::<usize>(), 1usize..40).prop_map(|(a, l)| Mutation::Cut(a, l)),
        (any::<usize>(), "[A-Za-z0-9_\\-.=+/ ]{1,8}").prop_map(|(a, s)| Mutation::Insert(a, s)),
        (
            0usize..3,
            prop::sample::select(vec![
                r#"{"alg":"none","kid":"k1"}"#,
                r#"{"alg":"HS256","kid":"k1"}"#,
                r#"{"alg":"RS256","kid":"k1","crit":["x"]}"#,
                r#"{"alg":"RS256","kid":"k2"}"#,
                r#"{"alg":"RS256","kid":"k1","jku":"http://evil"}"#,
                r#"{"alg":"RS256","alg":"none","kid":"k1"}"#,
                r#"{"sub":"x","token_use":"access","scope":"s/read","exp":99999999999}"#,
                r#"{}"#,
                r#"[]"#,
                r#"null"#,
                "",
            ])
        )
            .prop_map(|(p, j)| Mutation::Part(p, j.to_owned())),
    ]
}

fn apply(token: &str, m: &Mutation) -> Vec<u8> {
    use base64::Engine;
    let mut bytes = token.as_bytes().to_vec();
    match m {
        Mutation::Byte(at, b) => {
            let i = at % bytes.len();
            bytes[i] = *b;
        }
        Mutation::Cut(at, len) => {
            let i = at % bytes.len();
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Insert(at, s) => {
            let i = at % (bytes.len() + 1);
            bytes.splice(i..i, s.bytes());
        }
        Mutation::Part(p, json) => {
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            while parts.len() <= *p {
                parts.push(String::new());
            }
            parts[*p] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
            bytes = parts.join(".").into_bytes();
        }
    }
    bytes
}

#[test]
fn the_unmutated_token_is_allowed() {
    let token = token_fixture::get().token.clone();
    assert!(matches!(
        token_fixture::decide(&token),
        Decision::Allow { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn no_mutation_of_a_valid_token_is_allowed(mutations in prop::collection::vec(mutation(), 1..4)) {
        let token = token_fixture::get().token.clone();
        let mut bytes = token.clone().into_bytes();
        for m in &mutations {
            let current = String::from_utf8_lossy(&bytes).into_owned();
            bytes = apply(&current, m);
            if bytes.is_empty() {
                bytes = b"x".to_vec();
            }
        }
        let mutated = String::from_utf8_lossy(&bytes).into_owned();
        let decision = token_fixture::decide(&mutated);
        // The credential reader trims surrounding spaces; any other difference is a
        // different token and must be refused.
        if mutated.trim_matches([' ', '\t']) != token {
            let denied = !decision.lets_through();
            prop_assert!(denied, "allowed: {:?}", mutated);
        }
    }

    #[test]
    fn arbitrary_text_as_a_token_never_panics_and_never_allows(t in "\\PC{0,300}") {
        let decision = token_fixture::decide(&t);
        let denied = !decision.lets_through();
        prop_assert!(denied, "allowed: {:?}", t);
    }
}

// ---------------------------------------------------------------------------------------
// Policy YAML

const SEED_POLICY: &str = "userPools:
  - id: ap-south-1_abcdefghi
    appClients: [4example23456789abc]
tokenSource:
  header: authorization
defaultAction: deny
routes:
  - name: create-user
    hosts: [api.example.com, \"*.example.com\"]
    methods: [POST]
    path: /users/{id}
    scopes: [user_management_lambdas/api]
  - path: /files/{proxy+}
    scopes: [files/read, files/write]
  - path: /health
    auth: none
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_policy_loader_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn the_policy_loader_never_panics_on_mutated_policies(
        edits in prop::collection::vec((any::<usize>(), 0usize..8, "[ -~\\n]{0,6}"), 1..6)
    ) {
        let mut text = SEED_POLICY.to_owned();
        for (at, cut, insert) in edits {
            let mut i = at % (text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            let mut end = (i + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(i..end, &insert);
        }
        let _ = Policy::parse(&text);
    }
}
