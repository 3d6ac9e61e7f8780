"""Child processes, ports and waiting, with a deadline on everything.

A `ManagedProcess` runs in its own session (process group) with stdout and stderr in a
log file, so a test can show the log when something fails and stop the whole group
without touching anything it did not start.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping, Sequence

# The deadline of any one wait on an observable condition (a port, a log line, a metric,
# health) and of any one request to an admin endpoint: far above what it takes on an idle
# machine, so only a real defect reaches it, never a slow or busy one. The e2e suite's
# conftest re-exports it.
DEADLINE_SECONDS = 30

# Every ManagedProcess still running, so a last-resort hook (atexit, signal handler,
# pytest session end) can stop them all.
_LIVE: "set[ManagedProcess]" = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.05,
    on_timeout: Callable[[], str] | None = None,
) -> None:
    """Poll `condition` until it holds; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # a condition that raises is just "not yet"
            pass
        if time.monotonic() >= deadline:
            detail = on_timeout() if on_timeout else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """Status code of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


class ManagedProcess:
    """One child process with a log file. Use as a context manager or call stop()."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        tail = "\n".join(text[-lines:])
        return f"--- last lines of {self.name} log ({self.log_path}) ---\n{tail}"

    def wait_exit(self, timeout: float) -> int | None:
        """Exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL the whole process group."""
        code = None
        if self.alive():
            self.signal(signal.SIGTERM)
            code = self.wait_exit(timeout)
        if code is None and self.proc.poll() is None:
            self.kill()
            code = self.wait_exit(5.0)
        else:
            code = self.proc.returncode
        # Anything the child itself started (none expected) goes with its group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        _LIVE.discard(self)
        return code

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "ManagedProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    """Stop every ManagedProcess still running (last-resort cleanup)."""
    for p in list(_LIVE):
        try:
            p.stop(timeout=2.0)
        except Exception:
            p.kill()


# Whatever path a script or test run takes out (an exception, sys.exit), children
# started here do not outlive it. (SIGKILL of this process is the one case left; the
# demo's shell trap covers it.)
atexit.register(stop_all)
