"""A short, bounded burst through Envoy: the 0.5 s ext_authz timeout has headroom.

600 requests from 16 concurrent clients, 200 distinct tokens (so most checks are real
RS256 verifications, not cache hits), on this 2-core machine with Envoy, the service and
the Python upstream sharing it. Every request must be answered by the service's
decision, never by Envoy's outage path (status_on_error 503).
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor

from support.stack import Stack

from .conftest import Minter

REQUESTS = 600
CONCURRENCY = 16


def test_burst_has_no_check_errors_or_timeouts(stack: Stack, mint: Minter) -> None:
    tokens = [mint.access("files/read") for _ in range(200)]
    stat = stack.envoy.stat
    errors_before = stat("http.ingress_http.ext_authz.error") or 0
    timeouts_before = stat("cluster.cognito_ext_authz.upstream_rq_timeout") or 0

    def one(i: int) -> int:
        # Every 4th request has no token: denials under load must be right too.
        return stack.request(f"/files/burst-{i}", token=None if i % 4 == 3 else tokens[i % 200], timeout=10).status

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        statuses = collections.Counter(pool.map(one, range(REQUESTS)))
    elapsed = time.monotonic() - started

    assert statuses == {200: REQUESTS * 3 // 4, 401: REQUESTS // 4}, f"{statuses} in {elapsed:.1f}s\n{stack.logs()}"
    assert (stat("http.ingress_http.ext_authz.error") or 0) == errors_before
    assert (stat("cluster.cognito_ext_authz.upstream_rq_timeout") or 0) == timeouts_before
