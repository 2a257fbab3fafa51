"""A TCP proxy of the fault suite's own between the platform and a server (its PostgreSQL), that can cut
the link: `blackhole()` keeps every connection open but forwards nothing either way, `restore()` forwards
again (what was held is delivered then).

A forwarder that merely stops reading does not look dead to its clients: their kernel's data and keepalives
are still acknowledged by the proxy's kernel, so no TCP user timeout or keepalive can ever fire
(docs: /work/shared/notes/fault-testing.md). So the proxy listens inside a network namespace of its own,
reached over a veth pair, and `blackhole()` also puts the `blackhole` qdisc (it drops every packet) on both
ends of that pair: to the platform the link is dead exactly as a partition is, SYNs included. (`netem` is
not built into this machine's kernel; `blackhole` is.) Nothing else on the machine goes through that pair.

    with DeadableLink() as link, TcpProxy(("unix", "/path/.s.PGSQL.5432"), link) as proxy:
        proxy.address          # ("10.213.x.2", port): where the platform connects
        proxy.blackhole(); ...; proxy.restore()
        proxy.figures()        # connections accepted, open, closed by either side, bytes each way
"""
from __future__ import annotations

import ctypes
import os
import selectors
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from common.config import get_settings

NS_PREFIX = "wf-"  # namespaces named wf-<pid>-<n>, interfaces wfh<n><pid> / wfn<n><pid>
CLONE_NEWNET = 0x40000000
_links = iter(range(1, 10_000))


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=check)


def link_unavailable() -> str | None:
    """Why this machine cannot make a DeadableLink (None when it can): it needs root, `ip` and `tc`."""
    if os.geteuid() != 0:
        return "cutting a link needs root (a network namespace and a veth pair)"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    return f"cutting a link needs {missing}" if missing else None


class DeadableLink:
    """A network namespace reached from here over its own veth pair (10.213.<a>.<b>/30), whose packets
    can all be dropped (`drop()`) and let through again (`let_through()`)."""

    def __init__(self):
        n = next(_links)
        pid = os.getpid()
        self.ns = f"{NS_PREFIX}{pid}-{n}"
        self.host_dev, self.ns_dev = f"wfh{n}{pid}"[:15], f"wfn{n}{pid}"[:15]
        subnet = (pid * 64 + n) % (250 * 64)  # a /30 per link, spread by the pid: sessions side by side
        a, b = 1 + subnet // 64, (subnet % 64) * 4
        self.host_ip, self.ns_ip = f"10.213.{a}.{b + 1}", f"10.213.{a}.{b + 2}"
        self.dropping = False

    def __enter__(self) -> DeadableLink:
        remove_stale_links()
        _ip("ip", "netns", "add", self.ns)
        try:
            _ip("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", self.ns_dev)
            _ip("ip", "link", "set", self.ns_dev, "netns", self.ns)
            _ip("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_dev)
            _ip("ip", "link", "set", self.host_dev, "up")
            _ip("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_dev, ns=self.ns)
            _ip("ip", "link", "set", self.ns_dev, "up", ns=self.ns)
            _ip("ip", "link", "set", "lo", "up", ns=self.ns)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        _ip("ip", "link", "del", self.host_dev, check=False)  # takes its peer with it
        _ip("ip", "netns", "del", self.ns, check=False)

    def listen(self, port: int = 0) -> socket.socket:
        """A listening TCP socket on the namespace's side of the pair (made by a thread that enters the
        namespace: a socket stays in the namespace it was made in)."""
        made: dict = {}

        def make():
            libc = ctypes.CDLL(None, use_errno=True)
            with open("/proc/thread-self/ns/net") as own, open(f"/run/netns/{self.ns}") as theirs:
                if libc.setns(theirs.fileno(), CLONE_NEWNET) != 0:
                    made["error"] = OSError(ctypes.get_errno(), f"setns into {self.ns}")
                    return
                try:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((self.ns_ip, port))
                    sock.listen(256)
                    made["socket"] = sock
                except OSError as exc:
                    made["error"] = exc
                finally:
                    libc.setns(own.fileno(), CLONE_NEWNET)

        thread = threading.Thread(target=make, name=f"enter-{self.ns}")
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        return made["socket"]

    def drop(self) -> None:
        """Every packet either way is dropped from now on (nothing is refused or reset: silence)."""
        _ip("tc", "qdisc", "replace", "dev", self.host_dev, "root", "blackhole")
        _ip("tc", "qdisc", "replace", "dev", self.ns_dev, "root", "blackhole", ns=self.ns)
        self.dropping = True

    def let_through(self) -> None:
        _ip("tc", "qdisc", "del", "dev", self.host_dev, "root", check=False)
        _ip("tc", "qdisc", "del", "dev", self.ns_dev, "root", ns=self.ns, check=False)
        self.dropping = False


def remove_stale_links() -> list[str]:
    """Namespaces (and their veth pairs) left by a test process that is gone."""
    removed = []
    for path in Path("/run/netns").glob(f"{NS_PREFIX}*-*") if Path("/run/netns").is_dir() else []:
        owner = path.name[len(NS_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _ip("ip", "netns", "del", path.name, check=False)  # its veth end goes, and the pair with it
            removed.append(path.name)
    return removed


class _Pair:
    """One proxied connection: what each side sent that the other has not been given yet."""

    def __init__(self, client: socket.socket, server: socket.socket):
        self.client, self.server = client, server
        self.to_server, self.to_client = bytearray(), bytearray()
        self.closed = False


class TcpProxy:
    """Forwards each connection made to `address` to `upstream` (("unix", path) or (host, port)), in one
    selector thread. `blackhole()` stops forwarding either way (and drops the link's packets), keeping every
    connection open; `restore()` forwards again. A side that closes or resets closes the other."""

    CHUNK = 65536

    def __init__(self, upstream, link: DeadableLink, port: int = 0):
        self.upstream, self.link = upstream, link
        self.listener = link.listen(port)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()[:2]
        self.forwarding = True
        self.counts = {"accepted": 0, "closed_by_client": 0, "closed_by_server": 0, "upstream_refused": 0,
                       "bytes_to_server": 0, "bytes_to_client": 0}
        self._pairs: dict[socket.socket, _Pair] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # control

    def blackhole(self) -> None:
        with self._lock:
            self.forwarding = False
        self.link.drop()
        self._wake()

    def restore(self) -> None:
        self.link.let_through()
        with self._lock:
            self.forwarding = True
        self._wake()

    def close(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(10)
        for pair in list(self._pairs.values()):
            self._close(pair, None)
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def figures(self) -> dict:
        with self._lock:
            return {**self.counts, "open": len({id(p) for p in self._pairs.values() if not p.closed})}

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # the loop

    def _run(self) -> None:
        while not self._stopping:
            self._arm()
            for key, events in self._selector.select(timeout=1.0):
                sock = key.fileobj
                if sock is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                elif sock is self.listener:
                    self._accept()
                elif sock in self._pairs:
                    pair = self._pairs[sock]
                    if events & selectors.EVENT_WRITE and not pair.closed:
                        self._flush(pair, sock)
                    if events & selectors.EVENT_READ and not pair.closed:
                        self._read(pair, sock)

    def _arm(self) -> None:
        """Each socket watched for what it can do now: nothing at all while the link is cut."""
        for sock, pair in list(self._pairs.items()):
            if pair.closed:
                continue
            pending = pair.to_server if sock is pair.server else pair.to_client
            events = 0
            if self.forwarding:
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
            try:
                if events:
                    self._selector.modify(sock, events) if self._registered(sock) else \
                        self._selector.register(sock, events)
                elif self._registered(sock):
                    self._selector.unregister(sock)
            except (ValueError, OSError):
                self._close(pair, None)

    def _registered(self, sock) -> bool:
        try:
            self._selector.get_key(sock)
            return True
        except KeyError:
            return False

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if not self.forwarding:  # the packets of a cut link are dropped before this; a race at the cut
            client.close()
            return
        try:
            if self.upstream[0] == "unix":
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.settimeout(5)
                server.connect(self.upstream[1])
            else:
                server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            with self._lock:
                self.counts["upstream_refused"] += 1
            return
        client.setblocking(False)
        server.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._keepalive_as_server(client)
        pair = _Pair(client, server)
        with self._lock:
            self._pairs[client] = self._pairs[server] = pair
            self.counts["accepted"] += 1

    @staticmethod
    def _keepalive_as_server(client: socket.socket) -> None:
        """The server reached over the unix socket cannot probe the client itself; across a real partition
        its keepalives and TCP user timeout (common/db.py sends them as its options) would find the client
        gone and end the session, rolling back what it held. The proxy's client side does it for it, with
        the same bounds: a client lost in the cut is closed here and so on the server."""
        s = get_settings()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, s.db_keepalives_idle)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 3)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, s.db_tcp_user_timeout_ms)

    def _read(self, pair: _Pair, sock: socket.socket) -> None:
        try:
            data = sock.recv(self.CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(pair, "closed_by_client" if sock is pair.client else "closed_by_server")
            return
        if sock is pair.client:
            pair.to_server += data
            self.counts["bytes_to_server"] += len(data)
        else:
            pair.to_client += data
            self.counts["bytes_to_client"] += len(data)
        self._flush(pair, pair.server if sock is pair.client else pair.client)

    def _flush(self, pair: _Pair, sock: socket.socket) -> None:
        pending = pair.to_server if sock is pair.server else pair.to_client
        if not pending or not self.forwarding:
            return
        try:
            sent = sock.send(pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset: the client's kernel gave up on the connection during the cut
            self._close(pair, "closed_by_client" if sock is pair.client else "closed_by_server")
            return
        del pending[:sent]

    def _close(self, pair: _Pair, why: str | None) -> None:
        if pair.closed:
            return
        pair.closed = True
        for sock in (pair.client, pair.server):
            if self._registered(sock):
                self._selector.unregister(sock)
            with self._lock:
                self._pairs.pop(sock, None)
            try:
                sock.close()
            except OSError:
                pass
        if why:
            with self._lock:
                self.counts[why] += 1
