//! The few host calls the filter makes, declared here so that none can panic: the SDK's
//! wrappers `unwrap` or `panic!` on statuses they did not expect and decode header names
//! with `unwrap`, and a panic in a filter takes down the request path. Every call here
//! returns what the host said and leaves the decision to the caller.

use std::ptr::null_mut;
use std::time::Duration;

use proxy_wasm::types::{BufferType, LogLevel, MapType, Status, StreamType};

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
    fn proxy_get_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> Status;
    fn proxy_replace_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_remove_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
    ) -> Status;
    fn proxy_get_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> Status;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> Status;
    fn proxy_continue_stream(stream_type: StreamType) -> Status;
    fn proxy_set_tick_period_milliseconds(period: u32) -> Status;
    fn proxy_log(level: LogLevel, message_data: *const u8, message_size: usize) -> Status;
    // The level as a plain number: a value outside the enum must not become a `LogLevel`.
    fn proxy_get_log_level(return_level: *mut u32) -> Status;
    fn proxy_set_effective_context(context_id: u32) -> Status;
}

fn ok(status: Status) -> Result<(), Status> {
    match status {
        Status::Ok => Ok(()),
        other => Err(other),
    }
}

/// Takes ownership of a buffer the host allocated with the SDK's allocator.
///
/// # Safety
/// `data` and `size` must be what the host returned from a call that succeeded.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes at `data` through proxy_on_memory_allocate
    // (the SDK's `Vec<u8>` allocation) and hands them over.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// The request's header lines, as the host holds them (names lower case); `None` when the
/// host refused or the map is malformed.
pub(crate) fn request_headers() -> Option<Vec<(String, Vec<u8>)>> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: out-pointers to locals; the host fills them in.
    let status =
        unsafe { proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) };
    ok(status).ok()?;
    // SAFETY: returned by the call that just succeeded.
    let bytes = unsafe { owned(data, size) };
    decode_map(&bytes)
}

/// The proxy-wasm header map encoding: a count, then each name's and value's length, then
/// the names and values each followed by a NUL. Anything out of bounds is `None`.
pub(crate) fn decode_map(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = word(0)?;
    let mut at = count.checked_mul(8)?.checked_add(4)?;
    let mut out = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        let name_len = word(4 + i * 8)?;
        let value_len = word(8 + i * 8)?;
        let name = bytes.get(at..at.checked_add(name_len)?)?;
        at = at.checked_add(name_len + 1)?;
        let value = bytes.get(at..at.checked_add(value_len)?)?;
        at = at.checked_add(value_len + 1)?;
        out.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    Some(out)
}

/// One header of the key-fetch response (`:status`).
pub(crate) fn call_response_header(name: &str) -> Option<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: `name` outlives the call; out-pointers to locals.
    let status = unsafe {
        proxy_get_header_map_value(
            MapType::HttpCallResponseHeaders,
            name.as_ptr(),
            name.len(),
            &mut data,
            &mut size,
        )
    };
    ok(status).ok()?;
    // SAFETY: returned by the call that just succeeded.
    Some(unsafe { owned(data, size) })
}

/// The key-fetch response's body, at most `max` bytes.
pub(crate) fn call_response_body(max: usize) -> Option<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: out-pointers to locals.
    let status = unsafe {
        proxy_get_buffer_bytes(
            BufferType::HttpCallResponseBody,
            0,
            max,
            &mut data,
            &mut size,
        )
    };
    match status {
        Status::Ok => Some(unsafe { owned(data, size) }),
        Status::NotFound => Some(Vec::new()),
        _ => None,
    }
}

/// Sets request header `name` to `value`, replacing any the client sent.
pub(crate) fn set_request_header(name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: both slices outlive the call.
    ok(unsafe {
        proxy_replace_header_map_value(
            MapType::HttpRequestHeaders,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Removes request header `name` (every line of it).
pub(crate) fn remove_request_header(name: &str) -> Result<(), Status> {
    // SAFETY: `name` outlives the call.
    ok(unsafe {
        proxy_remove_header_map_value(MapType::HttpRequestHeaders, name.as_ptr(), name.len())
    })
}

/// Answers the client directly; the request goes no further.
pub(crate) fn send_response(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), Status> {
    let map = encode_map(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
    let details = b"cognito_ext_authz_denied";
    // SAFETY: every slice outlives the call.
    ok(unsafe {
        proxy_send_local_response(
            u32::from(status),
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            map.as_ptr(),
            map.len(),
            -1,
        )
    })
}

/// Lets a paused request go on.
pub(crate) fn resume_request() -> Result<(), Status> {
    // SAFETY: no arguments.
    ok(unsafe { proxy_continue_stream(StreamType::HttpRequest) })
}

/// Makes `context_id` the context the following calls act on.
pub(crate) fn set_effective_context(context_id: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    ok(unsafe { proxy_set_effective_context(context_id) })
}

/// Starts a GET to `cluster`; the answer comes to the calling context's
/// `on_http_call_response` with the returned token. Through the SDK, which must record
/// the token to route the answer (it panics only on a status Envoy never returns here).
pub(crate) fn http_get(
    cluster: &str,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> Result<u32, Status> {
    proxy_wasm::hostcalls::dispatch_http_call(
        cluster,
        vec![
            (":method", "GET"),
            (":path", path),
            (":authority", authority),
            ("accept", "application/json"),
        ],
        None,
        Vec::new(),
        timeout,
    )
}

/// The header map encoding `decode_map` reads.
pub(crate) fn encode_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let pairs: Vec<(&str, &[u8])> = pairs.collect();
    let mut out = Vec::new();
    out.extend((pairs.len() as u32).to_le_bytes());
    for (k, v) in &pairs {
        out.extend((k.len() as u32).to_le_bytes());
        out.extend((v.len() as u32).to_le_bytes());
    }
    for (k, v) in &pairs {
        out.extend(k.as_bytes());
        out.push(0);
        out.extend(*v);
        out.push(0);
    }
    out
}

/// The plugin configuration, as bytes.
pub(crate) fn plugin_configuration() -> Option<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: out-pointers to locals.
    let status = unsafe {
        proxy_get_buffer_bytes(
            BufferType::PluginConfiguration,
            0,
            usize::MAX,
            &mut data,
            &mut size,
        )
    };
    ok(status).ok()?;
    // SAFETY: returned by the call that just succeeded.
    Some(unsafe { owned(data, size) })
}

/// Has the root context's `on_tick` called every `period`.
pub(crate) fn set_tick_period(period: Duration) -> Result<(), Status> {
    let millis = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
    // SAFETY: no pointers.
    ok(unsafe { proxy_set_tick_period_milliseconds(millis) })
}

/// Whether the host writes debug lines (its log level for this plugin is debug or trace);
/// when it cannot say, yes.
pub(crate) fn logs_debug() -> bool {
    let mut level = 0u32;
    // SAFETY: an out-pointer to a local.
    let status = unsafe { proxy_get_log_level(&mut level) };
    ok(status).is_err() || level <= LogLevel::Debug as u32
}

/// A line in Envoy's log at `level`.
pub(crate) fn log(level: LogLevel, message: &str) {
    // SAFETY: `message` outlives the call.
    let _ = unsafe { proxy_log(level, message.as_ptr(), message.len()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_maps_round_trip_and_bad_ones_are_refused() {
        let map = encode_map([("a", &b"1"[..]), (":path", b"/x\xff")].into_iter());
        assert_eq!(
            decode_map(&map).unwrap(),
            [
                ("a".to_owned(), b"1".to_vec()),
                (":path".to_owned(), b"/x\xff".to_vec())
            ]
        );
        for cut in 1..map.len() - 1 {
            let _ = decode_map(&map[..cut]); // never panics
        }
        assert!(decode_map(&map[..map.len() - 2]).is_none());
        assert!(decode_map(&[0xff, 0xff, 0xff, 0xff]).is_none());
        assert_eq!(decode_map(&[]).unwrap(), []);
    }
}
