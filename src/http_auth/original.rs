//! Where each endpoint reads the original request (method, host, path) from.
//!
//! The gateway's configuration picks the endpoint, and each endpoint reads only its own
//! headers: `/envoy/<path>` the subrequest's own method, `Host` and target after the
//! prefix; `/nginx` `X-Original-Method`, `Host`, `X-Original-URI`; `/ingress-nginx`
//! `X-Original-Method` and the host and path of `X-Original-URL`; `/traefik`
//! `X-Forwarded-Method`, `-Host`, `-Uri`. Nothing is ever guessed from another header:
//! an Envoy that passes a client's `X-Original-URI` through changes nothing, and a header
//! missing, sent twice or not text makes the subrequest a 400 denial
//! ([`DenyReason::BadSubrequest`]). The values are taken as sent; the pipeline then
//! judges them exactly as it judges a gRPC check's (dot segments, encoded separators,
//! hosts with userinfo: 400).

use http::HeaderMap;

use crate::credential::Headers;
use crate::decision::{BadSubrequest, DenyReason, SubrequestProblem};
use crate::pipeline::Request;

/// The prefix of the Envoy endpoint (`path_prefix: /envoy` in Envoy's `http_service`,
/// `pathPrefix: /envoy` in Istio's `envoyExtAuthzHttp`).
pub const ENVOY_PREFIX: &str = "/envoy";

/// The gateway a subrequest's endpoint is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/envoy/<path>`: Envoy `http_service`, Istio `envoyExtAuthzHttp`.
    Envoy,
    /// `/nginx`: NGINX `auth_request`.
    Nginx,
    /// `/ingress-nginx`: ingress-nginx `auth-url`.
    IngressNginx,
    /// `/traefik`: Traefik `ForwardAuth`.
    Traefik,
}

impl Endpoint {
    /// The endpoint a request target is for, with the original target for Envoy's
    /// (everything after `/envoy`, query included); `None` for any other target (404).
    pub fn of(target: &str) -> Option<(Endpoint, &str)> {
        if let Some(rest) = target.strip_prefix(ENVOY_PREFIX)
            && rest.starts_with('/')
        {
            return Some((Endpoint::Envoy, rest));
        }
        // The fixed endpoints are matched without their query, which nothing reads.
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let endpoint = match path {
            "/nginx" => Endpoint::Nginx,
            "/ingress-nginx" => Endpoint::IngressNginx,
            "/traefik" => Endpoint::Traefik,
            _ => return None,
        };
        Some((endpoint, ""))
    }
}

/// The original request of a subrequest to `endpoint`: `method` and `target` are the
/// subrequest's own (Envoy's endpoint reads them), `envoy_target` the part of its target
/// after `/envoy`, `headers` every header it carries (the token is read from them).
pub fn read(
    endpoint: Endpoint,
    method: &str,
    envoy_target: &str,
    headers: &HeaderMap,
) -> Result<Request, DenyReason> {
    let (method, host, path) = match endpoint {
        Endpoint::Envoy => (
            method.to_owned(),
            one(headers, "host")?,
            envoy_target.to_owned(),
        ),
        Endpoint::Nginx => (
            one(headers, "x-original-method")?,
            one(headers, "host")?,
            one(headers, "x-original-uri")?,
        ),
        Endpoint::IngressNginx => {
            let method = one(headers, "x-original-method")?;
            let (host, path) = split_url(&one(headers, "x-original-url")?).ok_or(
                DenyReason::BadSubrequest(BadSubrequest {
                    header: "x-original-url",
                    problem: SubrequestProblem::NotUrl,
                }),
            )?;
            (method, host, path)
        }
        Endpoint::Traefik => (
            one(headers, "x-forwarded-method")?,
            one(headers, "x-forwarded-host")?,
            one(headers, "x-forwarded-uri")?,
        ),
    };
    Ok(Request::new(method, host, path, pipeline_headers(headers)))
}

/// The one value of `name`, as text; missing, repeated or not text is a bad subrequest.
fn one(headers: &HeaderMap, name: &'static str) -> Result<String, DenyReason> {
    let bad = |problem| {
        DenyReason::BadSubrequest(BadSubrequest {
            header: name,
            problem,
        })
    };
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(bad(SubrequestProblem::Missing))?;
    if values.next().is_some() {
        return Err(bad(SubrequestProblem::Repeated));
    }
    std::str::from_utf8(value.as_bytes())
        .map(str::to_owned)
        .map_err(|_| bad(SubrequestProblem::NotText))
}

/// The host and path (query included) of an absolute `http`/`https` URL, taken apart
/// without normalising anything: `https://h/a/../b` gives `/a/../b`, for the pipeline to
/// refuse as it refuses that path from Envoy. The path must start with `/`.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let slash = rest.find('/')?;
    let (authority, path) = rest.split_at(slash);
    if authority.is_empty() || authority.contains(['?', '#']) {
        return None;
    }
    Some((authority.to_owned(), path.to_owned()))
}

/// The subrequest's headers as the pipeline reads a gRPC check's raw header map: one entry
/// per header line, names lower case (as HTTP/1 parsing leaves them), values as bytes.
fn pipeline_headers(headers: &HeaderMap) -> Headers {
    Headers::from_lines(
        headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn bad(header: &'static str, problem: SubrequestProblem) -> DenyReason {
        DenyReason::BadSubrequest(BadSubrequest { header, problem })
    }

    #[test]
    fn endpoints_are_exact_and_envoy_keeps_the_target_after_its_prefix() {
        assert_eq!(
            Endpoint::of("/envoy/users/1?x=1"),
            Some((Endpoint::Envoy, "/users/1?x=1"))
        );
        assert_eq!(Endpoint::of("/envoy/"), Some((Endpoint::Envoy, "/")));
        assert_eq!(Endpoint::of("/nginx?x=1"), Some((Endpoint::Nginx, "")));
        assert_eq!(
            Endpoint::of("/ingress-nginx"),
            Some((Endpoint::IngressNginx, ""))
        );
        assert_eq!(Endpoint::of("/traefik"), Some((Endpoint::Traefik, "")));
        for other in [
            "/",
            "/envoy",
            "/envoyx/a",
            "/envoy?x",
            "/ENVOY/a",
            "/nginx/",
            "/nginx/a",
            "/Nginx",
            "/traefik/",
            "*",
        ] {
            assert_eq!(Endpoint::of(other), None, "{other}");
        }
    }

    #[test]
    fn each_endpoint_reads_only_its_own_headers() {
        let all = headers(&[
            ("host", "h.example"),
            ("x-original-method", "delete"),
            ("x-original-uri", "/nginx-path"),
            ("x-original-url", "https://i.example:8443/ingress-path?q=1"),
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-host", "t.example"),
            ("x-forwarded-uri", "/traefik-path"),
        ]);
        let got = |e| {
            let r = read(e, "POST", "/envoy-path", &all).unwrap();
            (
                r.method().to_owned(),
                r.host().to_owned(),
                r.path().to_owned(),
            )
        };
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(got(Endpoint::Envoy), s("POST", "h.example", "/envoy-path"));
        assert_eq!(
            got(Endpoint::Nginx),
            s("DELETE", "h.example", "/nginx-path")
        );
        assert_eq!(
            got(Endpoint::IngressNginx),
            s("DELETE", "i.example:8443", "/ingress-path?q=1")
        );
        assert_eq!(
            got(Endpoint::Traefik),
            s("PUT", "t.example", "/traefik-path")
        );
    }

    #[test]
    fn missing_repeated_or_unreadable_originals_are_bad_subrequests() {
        use SubrequestProblem::*;
        let nginx = |pairs: &[(&'static str, &str)]| {
            read(Endpoint::Nginx, "GET", "", &headers(pairs)).unwrap_err()
        };
        assert_eq!(
            nginx(&[("host", "h"), ("x-original-uri", "/a")]),
            bad("x-original-method", Missing)
        );
        assert_eq!(
            nginx(&[
                ("host", "h"),
                ("x-original-method", "GET"),
                ("x-original-uri", "/a"),
                ("x-original-uri", "/b"),
            ]),
            bad("x-original-uri", Repeated)
        );
        assert_eq!(
            nginx(&[
                ("host", "h"),
                ("host", "h"),
                ("x-original-method", "GET"),
                ("x-original-uri", "/a"),
            ]),
            bad("host", Repeated)
        );
        let mut not_text = headers(&[("host", "h"), ("x-original-method", "GET")]);
        not_text.append(
            "x-original-uri",
            http::HeaderValue::from_bytes(b"/caf\xe9").unwrap(),
        );
        assert_eq!(
            read(Endpoint::Nginx, "GET", "", &not_text).unwrap_err(),
            bad("x-original-uri", NotText)
        );
        for url in [
            "/relative",
            "ftp://h/a",
            "https://h",
            "https:///a",
            "https://h?x=/a",
        ] {
            assert_eq!(
                read(
                    Endpoint::IngressNginx,
                    "GET",
                    "",
                    &headers(&[("x-original-method", "GET"), ("x-original-url", url)])
                )
                .unwrap_err(),
                bad("x-original-url", NotUrl),
                "{url}"
            );
        }
        assert_eq!(
            read(Endpoint::Envoy, "GET", "/a", &headers(&[])).unwrap_err(),
            bad("host", Missing)
        );
    }

    #[test]
    fn urls_are_split_without_normalising() {
        assert_eq!(
            split_url("HTTPS://h/a/../b%2fc;x?q=1"),
            Some(("h".to_owned(), "/a/../b%2fc;x?q=1".to_owned()))
        );
        assert_eq!(
            split_url("http://u@h/a"),
            Some(("u@h".to_owned(), "/a".to_owned()))
        );
    }
}
