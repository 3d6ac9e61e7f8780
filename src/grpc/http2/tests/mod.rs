use super::*;

#[test]
fn grpc_timeout_is_read_in_every_unit_and_refused_when_malformed() {
    let read = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert("grpc-timeout", HeaderValue::from_str(v).unwrap());
        grpc_timeout(&h)
    };
    assert_eq!(read("500m"), Some(Duration::from_millis(500)));
    assert_eq!(read("2S"), Some(Duration::from_secs(2)));
    assert_eq!(read("1M"), Some(Duration::from_secs(60)));
    assert_eq!(read("1H"), Some(Duration::from_secs(3600)));
    assert_eq!(read("7u"), Some(Duration::from_micros(7)));
    assert_eq!(read("9n"), Some(Duration::from_nanos(9)));
    assert_eq!(read("99999999S"), Some(Duration::from_secs(99_999_999)));
    for bad in ["", "m", "5", "5x", "123456789m", "-5m", "5 m", "５m"] {
        assert_eq!(read(bad), None, "{bad:?}");
    }
    assert_eq!(grpc_timeout(&HeaderMap::new()), None);
}

mod backlog;
mod harness;
mod timers;
mod tls;
