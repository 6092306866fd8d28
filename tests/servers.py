"""Servers a test owns: a private ``redis-server`` and a TCP fault proxy.

Tests never touch the shared Redis on 6379: each session (and each chaos test)
starts its own ``redis-server`` on a free port, without persistence, in a
temporary directory, and may stop or restart it at will. The fault proxy sits
between the processes under test and a real server (Redis, Postgres) and
breaks the network on demand: it can stall every connection (a partition),
refuse new ones (a server that is down), or reset the open ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class ServerUnavailable(RuntimeError):
    """The server binary is missing or would not start."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a crashed peer or a REJECT firewall rule would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


# --- redis-server ----------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of our own: no persistence, its own port, restartable on that port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("no redis-server on PATH")
        self.binary = binary
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.port, db=db, socket_timeout=5)

    def _probe(self) -> redis.Redis:
        # No retries: redis-py's default backs off for seconds on a refused connection.
        return redis.Redis(
            host=LOOPBACK,
            port=self.port,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        log_file = self.directory / "redis.log"
        # --save '' and --appendonly no: a restart starts empty, like a crash of a
        # Redis without persistence, the worst case for queued work.
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", LOOPBACK,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--logfile", str(log_file),
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise ServerUnavailable(f"redis-server exited with {self.proc.returncode}\n{tail}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise ServerUnavailable(f"redis-server did not answer on port {self.port} in {timeout}s")

    def ping(self) -> bool:
        client = self._probe()
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM; SIGKILL if it lingers) and wait until the port is free."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-command, as in a crash."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the fault proxy -------------------------------------------------------------


class _Link:
    """One proxied connection: the client's socket and ours to the upstream server."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()

    def reset(self) -> None:
        self.closed.set()
        _reset(self.client)
        _reset(self.upstream)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that can break the connection to a real server on demand.

    * ``pause("drop")``: a network partition. Open connections stall (nothing is
      forwarded either way, the bytes wait in the kernel as TCP would keep them),
      new connections are accepted but get no answer; ``resume()`` lets them
      all flow again, so a client only notices through its own timeouts.
    * ``pause("refuse")``: the server is down. Open connections are reset and
      new ones are reset at once.
    * ``cut()``: reset every open connection now (a crash, a NAT flush);
      clients that reconnect get through unless paused.
    """

    def __init__(self, upstream_port: int, upstream_host: str = LOOPBACK) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._mode = "open"
        self._links: set[_Link] = set()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)

    def url_for(self, template: str) -> str:
        """``template`` with ``{port}`` replaced by the proxy's port."""
        return template.format(port=self.port)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    @property
    def connections(self) -> int:
        with self._lock:
            return sum(1 for link in self._links if not link.closed.is_set())

    def pause(self, mode: str = "drop") -> None:
        if mode not in {"drop", "refuse"}:
            raise ValueError(f"mode must be 'drop' or 'refuse', not {mode!r}")
        with self._lock:
            self._mode = mode
            self._flowing.clear()
        if mode == "refuse":
            self.cut()

    def resume(self) -> None:
        with self._lock:
            self._mode = "open"
            held, self._held = self._held, []
            self._flowing.set()
        # Connections that arrived during a partition go through now, late.
        for client in held:
            self._open_link(client)

    def cut(self) -> int:
        """Reset every open connection; returns how many there were."""
        with self._lock:
            links, self._links = list(self._links), set()
        for link in links:
            link.reset()
        return len(links)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._flowing.set()
        self.cut()
        with self._lock:
            held, self._held = self._held, []
        for client in held:
            _reset(client)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.2)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            with self._lock:
                mode = self._mode
                if mode == "drop":
                    self._held.append(client)
                    continue
            if mode == "refuse":
                _reset(client)
                continue
            self._open_link(client)

    def _open_link(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
        except OSError:
            _reset(client)
            return
        link = _Link(client, upstream)
        with self._lock:
            self._links.add(link)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(link, src, dst), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not link.closed.is_set():
                # A partition: hold the bytes where they are until it heals.
                while not self._flowing.wait(0.2):
                    if link.closed.is_set() or self._stop.is_set():
                        return
                ready, _, _ = select.select([src], [], [], 0.2)
                if not ready or not self._flowing.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            # One side hung up: pass the hang-up on, as the kernel would.
            if not link.closed.is_set():
                link.closed.set()
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.close()
                with self._lock:
                    self._links.discard(link)


# --- processes -------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process from /proc (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def children_of(pid: int) -> list[int]:
    """The direct children of a process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found
