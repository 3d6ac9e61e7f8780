"""A minimal HTTP/2 gRPC client on a plain socket, for probes and connection counting.

Enough of HTTP/2 to do what the kubelet's gRPC probe and an idle Envoy do: the connection
preface and SETTINGS exchange, and unary calls whose request headers are HPACK literals
(no Huffman, no table). Responses are read frame by frame; only DATA payloads are
interpreted, so no HPACK decoder is needed. No dependency beyond the standard library.
"""

from __future__ import annotations

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4

# grpc.health.v1.HealthCheckResponse.ServingStatus
SERVING, NOT_SERVING = 1, 2


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(value: int, prefix_bits: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([value])
    out, value = [limit], value - limit
    while value >= 128:
        out.append((value % 128) + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _literal(name: str, value: str) -> bytes:
    """Literal header field without indexing, new name (RFC 7541 6.2.2), no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _hpack_int_varint((number << 3) | 2) + _hpack_int_varint(len(payload)) + payload


def _hpack_int_varint(value: int) -> bytes:  # protobuf varint
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def health_request(service: str = "") -> bytes:
    return _field(1, service.encode()) if service else b""


def check_request(method: str, path: str, host: str, headers: dict[str, str]) -> bytes:
    """envoy.service.auth.v3.CheckRequest with attributes.request.http filled as Envoy does."""
    http = _field(2, method.encode()) + _field(4, path.encode()) + _field(5, host.encode())
    for name, value in headers.items():
        http += _field(3, _field(1, name.encode()) + _field(2, value.encode()))
    http += _field(6, b"http") + _field(10, b"HTTP/1.1")
    request = _field(2, http)
    return _field(1, _field(4, request))


class H2Connection:
    """One client connection; `call` runs unary gRPC calls on it one after another."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.next_stream = 1
        self.buffer = b""
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        # The server's SETTINGS first; acknowledge it, and wait for the ACK of ours.
        acked = False
        got_settings = False
        deadline = time.monotonic() + timeout
        while not (acked and got_settings):
            if time.monotonic() > deadline:
                raise TimeoutError("HTTP/2 handshake")
            kind, flags, stream, payload = self._read_frame()
            if kind == SETTINGS and flags & ACK:
                acked = True
            elif kind == SETTINGS:
                got_settings = True
                self.sock.sendall(frame(SETTINGS, ACK, 0))
            elif kind == GOAWAY:
                raise ConnectionError("GOAWAY during handshake")

    def _read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read_frame(self) -> tuple[int, int, int, bytes]:
        head = self._read_exact(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        return kind, flags, stream, self._read_exact(length)

    def call(self, path: str, message: bytes, authority: str = "localhost") -> bytes:
        """Unary call; returns the response message (empty when none came: an error)."""
        stream = self.next_stream
        self.next_stream += 2
        block = b"".join(_literal(k, v) for k, v in (
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", authority), ("content-type", "application/grpc"), ("te", "trailers"),
        ))
        self.sock.sendall(frame(HEADERS, END_HEADERS, stream, block)
                          + frame(DATA, END_STREAM, stream, grpc_frame(message)))
        body = b""
        while True:
            kind, flags, sid, payload = self._read_frame()
            if kind == SETTINGS and not flags & ACK:
                self.sock.sendall(frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                self.sock.sendall(frame(PING, ACK, 0, payload))
            elif kind == GOAWAY:
                raise ConnectionError("GOAWAY")
            elif sid == stream and kind == RST_STREAM:
                raise ConnectionError("stream reset")
            elif sid == stream and kind == DATA:
                body += payload
                if payload:  # keep the server's windows open for long-lived connections
                    self.sock.sendall(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload)))
                                      + frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", len(payload))))
                if flags & END_STREAM:
                    break
            elif sid == stream and kind == HEADERS and flags & END_STREAM:
                break
        return body[5:] if len(body) >= 5 else b""

    def health(self, service: str = "") -> int | None:
        """grpc.health.v1.Health/Check: SERVING (1), NOT_SERVING (2), or None on an error."""
        reply = self.call("/grpc.health.v1.Health/Check", health_request(service))
        if len(reply) >= 2 and reply[0] == 0x08:
            return reply[1]
        return None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def grpc_health(port: int, service: str = "", timeout: float = 2.0) -> int | None:
    """What the kubelet's native gRPC probe asks: None when nothing answers."""
    try:
        conn = H2Connection(port, timeout=timeout)
    except OSError:
        return None
    try:
        return conn.health(service)
    except (OSError, ConnectionError):
        return None
    finally:
        conn.close()
