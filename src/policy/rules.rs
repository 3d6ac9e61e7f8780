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
pub fn check_fetch_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
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

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("{issuer:?} is not an http(s) URL"));
    }
    Ok(())
}
