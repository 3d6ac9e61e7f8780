//! A request as every caller hands it to the pipeline: the service's gRPC and HTTP ports,
//! `check` and `test` all make it with [`Request::new`], so each decides exactly what the
//! others would. Headers have one representation, one entry per header line as the proxy
//! sent it ([`Headers`]).

/// A request to decide.
#[derive(Debug, Clone, Default)]
pub struct Request {
    method: String,
    host: String,
    path: String,
    headers: Headers,
}

impl Request {
    /// The request with this method (upper-cased, as Envoy and API Gateway compare
    /// methods), host (`:authority`, as sent), path (as sent, query included) and headers.
    pub fn new(
        method: impl Into<String>,
        host: impl Into<String>,
        path: impl Into<String>,
        headers: Headers,
    ) -> Self {
        let mut method = method.into();
        method.make_ascii_uppercase();
        Request {
            method,
            host: host.into(),
            path: path.into(),
            headers,
        }
    }

    /// The method, upper case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The host (`:authority`), as sent; normalised when matched.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path as sent, query string included.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The request's headers: the token is read from them.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}

/// The request headers: one `(name, value)` entry per header line, names lower case
/// (Envoy's `header_map`; a map of joined values, as Envoy's `headers` field or the offline
/// tools give, is one entry per name).
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// The headers of these lines; names are lower-cased.
    pub fn from_lines(lines: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        Headers(
            lines
                .into_iter()
                .map(|(mut name, value)| {
                    name.make_ascii_lowercase();
                    (name, value)
                })
                .collect(),
        )
    }

    /// Every `(name, value)` line, in the order sent.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The first value of header `name` (lowercase), as bytes.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Calls `f` with each header name (lower case), once per line.
    pub fn for_each_name(&self, mut f: impl FnMut(&str)) {
        self.0.iter().for_each(|(k, _)| f(k));
    }
}

/// Text headers, one entry per name (`check`'s and `test`'s requests).
impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Headers::from_lines(iter.into_iter().map(|(k, v)| (k, v.into_bytes())))
    }
}

/// An HTTP method: a non-empty token (RFC 9110 5.6.2) of at most 32 characters.
pub(crate) fn is_method(method: &str) -> bool {
    !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_is_upper_cased_and_nothing_else_is_changed() {
        let r = Request::new(
            "get",
            "Api.Example.com",
            "/A?x=Y",
            Headers::from_lines([("X-Token".to_owned(), b"v".to_vec())]),
        );
        assert_eq!(
            (r.method(), r.host(), r.path()),
            ("GET", "Api.Example.com", "/A?x=Y")
        );
        assert_eq!(r.headers().value("x-token"), Some(&b"v"[..]));
        assert_eq!(
            Request::new(" get", "h", "/", Headers::default()).method(),
            " GET"
        );
    }

    #[test]
    fn a_header_sent_twice_keeps_both_lines() {
        let h = Headers::from_lines([
            ("authorization".to_owned(), b"a".to_vec()),
            ("Authorization".to_owned(), b"b".to_vec()),
        ]);
        assert_eq!(h.value("authorization"), Some(&b"a"[..]));
        assert_eq!(h.lines().filter(|(k, _)| *k == "authorization").count(), 2);
        let mut names = 0;
        h.for_each_name(|_| names += 1);
        assert_eq!(names, 2);
    }
}
