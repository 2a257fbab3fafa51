"""Extra nodes of the installed RabbitMQ server, each with its own name, ports and data directory, for
fault tests (tests/faults/) and for a person reproducing a fault by hand. The machine's own broker
(rabbit@localhost, 5672) is never touched.

    python -m scripts.rabbit_nodes start NAME [--port 5700] [--dist-port 25700]   # prints its AMQP URI
    python -m scripts.rabbit_nodes cluster NAME1 NAME2 [NAME3 ...]   # starts the missing ones, joins 2..n to 1
    python -m scripts.rabbit_nodes restart NAME [--down 8]           # stop_app, wait, start_app (CONNECTION_FORCED)
    python -m scripts.rabbit_nodes kill NAME [--restart]             # kill -9 of its beam process (EOF/ECONNRESET)
    python -m scripts.rabbit_nodes alarm NAME memory|disk on|off     # block/unblock publishers
    python -m scripts.rabbit_nodes leader NAME QUEUE [--vhost /]     # the node leading a quorum queue
    python -m scripts.rabbit_nodes policies NAME [--vhost /]         # scripts/rabbitmq_policies.POLICIES
    python -m scripts.rabbit_nodes queues NAME [--vhost /]           # name, messages, type, leader
    python -m scripts.rabbit_nodes list                              # the extra nodes running now
    python -m scripts.rabbit_nodes stop NAME [NAME ...]              # rabbitmqctl stop, then remove its dir
    python -m scripts.rabbit_nodes cleanup [--all]                   # nodes left behind by aborted test runs

How a node is made (see /work/shared/notes/fault-testing.md): its own config file with
`listeners.tcp.local = 127.0.0.1:<port>` named by RABBITMQ_CONFIG_FILE (the machine's rabbitmq.conf pins
5672 otherwise), RABBITMQ_NODENAME=<name>@localhost, RABBITMQ_DIST_PORT, and MNESIA_BASE, LOG_BASE, PID_FILE
and an empty ENABLED_PLUGINS_FILE in one directory the `rabbitmq` user owns (the server drops to that
user), then `rabbitmq-server -detached` and `rabbitmqctl -n <name>@localhost status` until it answers.
The guest user may connect from 127.0.0.1, so no user is added.

Directories are named /tmp/welfare-fault-rabbit-<owner>-<name>-XXXX, <owner> being the pid of the test
process that made the node ("manual" from this command line): `cleanup` (and every fault-test session, at
its start) kills nodes whose owner process is gone and removes their directories.

Every call is bounded in time and fails with a RabbitNodeError that says what did not happen, with the
tail of the node's log where it helps.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "welfare-fault-rabbit-"
HOST = "localhost"
CTL = "rabbitmqctl"
SERVER = "rabbitmq-server"
# the CLI tools take their own distribution ports from 35672 up (25672 + 10000): never give those to a node
RESERVED_PORTS = {5672, 15672, 25672, *range(35672, 35692)}
NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class RabbitNodeError(RuntimeError):
    pass


def pick_port() -> int:
    """A free TCP port on 127.0.0.1 outside the ports the machine's broker and its CLI tools use."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


# rabbitmqctl boots an Erlang VM of its own for every call: a second or two on a quiet machine, and over 10 s on
# a slow two-core one under the whole suite's load (seen in CI); a query of a node that answers is bounded by this
CLI_QUERY_SECONDS = 60


def ctl(node: str, *args: str, timeout: float = 30, check: bool = True, vhost: str | None = None
        ) -> subprocess.CompletedProcess:
    """`rabbitmqctl -n <node> [-p vhost] args...`, bounded by `timeout` (it raises RabbitNodeError on
    a timeout, and on a non-zero exit with check)."""
    command = [CTL, "-n", node, *(["-p", vhost] if vhost else []), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RabbitNodeError(f"`{' '.join(command)}` did not finish within {timeout:.0f}s") from None
    except FileNotFoundError:
        raise RabbitNodeError(f"{CTL} is not installed (apt-get install rabbitmq-server)") from None
    if check and done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise RabbitNodeError(f"`{' '.join(command)}` exited with {done.returncode}: {output}")
    return done


def _is_root() -> bool:
    return os.geteuid() == 0


def _process_env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _beams() -> list[tuple[int, dict[str, str]]]:
    """(pid, environment) of every RabbitMQ server VM of this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if not comm.startswith("beam"):
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"rabbit" in args and b"boot" in args:  # a server, not a CLI tool's VM (they run beam too)
            found.append((int(entry.name), _process_env(int(entry.name))))
    return found


def _wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Poll another process's state until `predicate()` holds; False when `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # polling the OS or the node: they offer nothing to wait on


class RabbitNode:
    """One node of the installed RabbitMQ server on 127.0.0.1:<amqp_port>, data in `base_dir`.

        node = RabbitNode("faults")          # free ports, a fresh directory under /tmp
        node.start()                         # ~5 s
        node.amqp_uri                        # amqp://guest:guest@127.0.0.1:<port>/
        node.stop_app(); node.start_app()    # a graceful restart (~1.5 s)
        node.kill9(); node.start()           # a crash and a start on the same data (~5 s)
        node.stop()                          # and its directory is removed
    """

    def __init__(self, name: str, amqp_port: int | None = None, dist_port: int | None = None,
                 base_dir: str | os.PathLike | None = None, owner: str | None = None):
        if not NAME.match(name):
            raise ValueError(f"a node name is letters, digits, - and _: {name!r}")
        if name == "rabbit":
            raise ValueError("rabbit@localhost is the machine's own broker: choose another name")
        self.name = name
        self.amqp_port = amqp_port or pick_port()
        self.dist_port = dist_port or pick_port()
        if base_dir is None:
            owner = owner or str(os.getpid())
            base_dir = tempfile.mkdtemp(prefix=f"{PREFIX}{owner}-{name}-")
        self.base_dir = Path(base_dir).resolve()

    def __repr__(self) -> str:
        return f"RabbitNode({self.name!r}, amqp_port={self.amqp_port}, dist_port={self.dist_port}, " \
               f"base_dir='{self.base_dir}')"

    # where it is

    @property
    def node(self) -> str:
        return f"{self.name}@{HOST}"

    @property
    def amqp_uri(self) -> str:
        return self.amqp_uri_for("/")

    def amqp_uri_for(self, vhost: str = "/") -> str:
        from urllib.parse import quote

        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{'' if vhost == '/' else quote(vhost, safe='')}"

    @property
    def mnesia_base(self) -> Path:
        return self.base_dir / "mnesia"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "log" / f"{self.node}.log"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "pid"

    def env(self) -> dict[str, str]:
        d = self.base_dir
        return {"RABBITMQ_NODENAME": self.node, "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"), "RABBITMQ_MNESIA_BASE": str(self.mnesia_base),
                "RABBITMQ_LOG_BASE": str(d / "log"), "RABBITMQ_PID_FILE": str(self.pid_file),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins")}

    # its OS process

    def beam_pids(self) -> list[int]:
        """The node's beam.smp process(es), found by the data directory in their environment."""
        mine = str(self.mnesia_base)
        return [pid for pid, env in _beams() if env.get("RABBITMQ_MNESIA_BASE") == mine and _alive(pid)]

    def os_pid(self) -> int | None:
        pids = self.beam_pids()
        if pids:
            return pids[0]
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _process_env(pid).get("RABBITMQ_NODENAME") == self.node else None

    def answers(self, timeout: float = 10) -> bool:
        """The node's Erlang VM answers `rabbitmqctl status` (its app may be stopped)."""
        try:
            return ctl(self.node, "status", timeout=timeout, check=False).returncode == 0
        except RabbitNodeError:
            return False

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = ["(no log)"]
        slogan = []
        dump = self.base_dir / "log" / "erl_crash.dump"
        if dump.exists():
            with open(dump, errors="replace") as f:
                slogan = [line.rstrip() for _, line in zip(range(3), f, strict=False)]
        return "\n".join([*text, *slogan])

    # lifecycle

    def _prepare(self) -> None:
        for sub in ("mnesia", "log"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\n"
            "loopback_users.guest = true\n"
            "log.file.level = info\n"
            "log.console = false\n")
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        dump = self.base_dir / "log" / "erl_crash.dump"
        if dump.exists():
            dump.unlink()
        if _is_root():
            import pwd

            user = pwd.getpwnam("rabbitmq")
            for path in [self.base_dir, *self.base_dir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
            # the server runs as rabbitmq: every parent must let it through
            for parent in self.base_dir.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    raise RabbitNodeError(f"{parent} is not traversable by the rabbitmq user: choose another base_dir")

    def start(self, timeout: float = 60) -> float:
        """Start the node (a new one, or again on the same data after stop() without removal or kill9())
        and wait until it has booted and listens on its AMQP port. Returns the seconds it took."""
        if shutil.which(SERVER) is None:
            raise RabbitNodeError(f"{SERVER} is not installed (apt-get install rabbitmq-server)")
        if self.os_pid() is not None:
            raise RabbitNodeError(f"{self.node} is already running (pid {self.os_pid()})")
        began = time.monotonic()
        self._prepare()
        try:
            subprocess.run([SERVER, "-detached"], env={**os.environ, **self.env()}, capture_output=True, text=True,
                           timeout=30, check=True, stdin=subprocess.DEVNULL)
        except subprocess.CalledProcessError as exc:
            raise RabbitNodeError(f"{SERVER} -detached for {self.node} failed: {exc.stderr or exc.stdout}") from None
        except subprocess.TimeoutExpired:
            raise RabbitNodeError(f"{SERVER} -detached for {self.node} did not return within 30s") from None
        deadline = began + timeout
        seen_beam = False
        while not self.registered():  # cheap (epmd), where `rabbitmqctl status` costs a VM start per call
            beam = self.os_pid() is not None
            seen_beam = seen_beam or beam
            if not beam and (seen_beam or time.monotonic() - began > 5):
                raise RabbitNodeError(f"{self.node} stopped while starting (ports {self.amqp_port}/{self.dist_port}); "
                                      f"its log:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise RabbitNodeError(f"{self.node} did not register with epmd within {timeout:.0f}s; "
                                      f"its log:\n{self.log_tail()}")
            time.sleep(0.1)  # polling the OS: the detached node gives no signal when it is up
        self._await_startup(max(5.0, deadline - time.monotonic()))
        return time.monotonic() - began

    def registered(self) -> bool:
        """The node is registered with epmd on its distribution port (its VM is up, the app may not be)."""
        try:
            names = subprocess.run([shutil.which("epmd") or "epmd", "-names"], capture_output=True, text=True,
                                   timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            return False
        return f"name {self.name} at port {self.dist_port}" in names

    def _await_startup(self, timeout: float) -> None:
        """`rabbitmqctl await_startup` (the app has booted), retried while the node's distribution comes
        up, then the AMQP port accepts connections."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                ctl(self.node, "await_startup", "--timeout", str(max(1, int(remaining))), timeout=remaining + 10)
                break
            except RabbitNodeError as exc:
                if time.monotonic() >= deadline or self.os_pid() is None:
                    raise RabbitNodeError(f"{exc}; its log:\n{self.log_tail()}") from None
            time.sleep(0.2)  # polling the node: it is not reachable by the CLI yet
        if not _wait_until(self.listening, min(timeout, 10)):
            raise RabbitNodeError(f"{self.node} booted but does not listen on 127.0.0.1:{self.amqp_port}")

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=1):
                return True
        except OSError:
            return False

    def stop_app(self, timeout: float = 30) -> None:
        """Stop the RabbitMQ application, the VM stays: clients get CONNECTION_FORCED."""
        ctl(self.node, "stop_app", timeout=timeout)
        if not _wait_until(lambda: not self.listening(), 10):
            raise RabbitNodeError(f"{self.node} still listens on {self.amqp_port} after stop_app")

    def start_app(self, timeout: float = 60) -> float:
        """Start the application again and wait until it has booted; the seconds it took."""
        began = time.monotonic()
        ctl(self.node, "start_app", timeout=timeout)
        self._await_startup(max(5.0, timeout - (time.monotonic() - began)))
        return time.monotonic() - began

    def restart(self, down: float = 0) -> float:
        """stop_app, `down` seconds without a broker, start_app: the seconds the port was closed."""
        began = time.monotonic()
        self.stop_app()
        time.sleep(down)  # the length of the outage, not a synchronization
        self.start_app()
        return time.monotonic() - began

    def kill9(self, timeout: float = 15) -> int:
        """kill -9 of the node's beam process (clients see EOF or ECONNRESET); waits until it is gone.
        Returns the pid killed. start() brings it back on the same data."""
        pid = self.os_pid()
        if pid is None:
            try:
                pid = int(ctl(self.node, "eval", "list_to_integer(os:getpid()).", timeout=CLI_QUERY_SECONDS).stdout.strip())
            except (RabbitNodeError, ValueError) as exc:
                raise RabbitNodeError(f"no beam process found for {self.node}: {exc}") from None
        os.kill(pid, signal.SIGKILL)
        if not _wait_until(lambda: not _alive(pid), timeout, 0.02):
            raise RabbitNodeError(f"{self.node}'s beam (pid {pid}) still runs {timeout:.0f}s after kill -9")
        if not _wait_until(lambda: not self.listening(), 5, 0.02):
            raise RabbitNodeError(f"port {self.amqp_port} still accepts connections after kill -9 of {self.node}")
        return pid

    def stop(self, remove: bool = True, timeout: float = 30) -> None:
        """`rabbitmqctl stop` (kill -9 when it does not stop within `timeout`), then remove its directory."""
        pid = self.os_pid()
        if pid is not None:
            try:
                ctl(self.node, "stop", timeout=timeout)
            except RabbitNodeError:
                pass
            if not _wait_until(lambda: not _alive(pid), 10, 0.05):
                os.kill(pid, signal.SIGKILL)
                _wait_until(lambda: not _alive(pid), 10, 0.05)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # alarms

    def alarms(self) -> str:
        return ctl(self.node, "eval", "rabbit_alarm:get_alarms().", timeout=CLI_QUERY_SECONDS).stdout

    def set_memory_alarm(self, on: bool, timeout: float = 20) -> None:
        """Raise (or clear) the memory alarm: publishers get connection.blocked."""
        before = self.publishes_blocked()
        ctl(self.node, "set_vm_memory_high_watermark", "0.0000001" if on else "0.4", timeout=timeout)
        self._await_alarm("memory", on, before, timeout)

    def set_disk_alarm(self, on: bool, timeout: float = 30) -> None:
        """Raise (or clear) the disk alarm by a free-space limit above (or well below) what is free."""
        limit = f"{shutil.disk_usage(self.base_dir).free * 4 // 1_000_000}MB" if on else "50MB"
        before = self.publishes_blocked()
        ctl(self.node, "set_disk_free_limit", limit, timeout=timeout)
        self._await_alarm("disk", on, before, timeout)

    def _await_alarm(self, kind: str, on: bool, blocked_before: bool | None, timeout: float) -> None:
        """Wait until the node's `kind` alarm is on (or off). Asked over AMQP first, in milliseconds where
        each rabbitmqctl call starts a VM (a second, several on a busy machine): publishes blocked now and
        not before the command means an alarm is on, not blocked means none is. When that cannot tell (the
        other alarm is on too), rabbitmqctl says."""
        if (on and blocked_before is False) or not on:
            if _wait_until(lambda: self.publishes_blocked() is on, min(3.0, timeout), 0.05):
                return
        if not _wait_until(lambda: (kind in self.alarms()) == on, timeout, 0.2):
            raise RabbitNodeError(f"the {kind} alarm of {self.node} is not {'on' if on else 'off'}: {self.alarms()}")

    def publishes_blocked(self, timeout: float = 5) -> bool | None:
        """Does the node refuse publishes now (a memory or disk alarm)? One confirmed publish on a new
        connection to "/" (the default exchange drops it): under an alarm the broker answers it with
        connection.blocked at once. None when the node cannot be asked."""
        import amqp

        class Blocked(Exception):
            pass

        def blocked(reason=None):
            raise Blocked(reason)

        conn = amqp.Connection(f"127.0.0.1:{self.amqp_port}", userid="guest", password="guest",
                               connect_timeout=timeout, on_blocked=blocked)
        try:
            conn.connect()
            channel = conn.channel()
            channel.confirm_select()
            channel.basic_publish_confirm(amqp.Message(b"alarm?"), exchange="", routing_key="rabbit-nodes.alarm-probe",
                                          confirm_timeout=timeout)
            return False
        except Blocked:
            return True
        except Exception:  # noqa: BLE001 - unreachable, or no confirm without a word: cannot tell
            return None
        finally:
            try:
                conn.collect()  # no closing handshake a blocked broker would not answer
            except Exception:  # noqa: BLE001 - already broken
                pass

    # vhosts, policies, queues

    def add_vhost(self, vhost: str) -> str:
        """A vhost the guest user may use in full; its AMQP URI."""
        ctl(self.node, "add_vhost", vhost)
        ctl(self.node, "set_permissions", "guest", ".*", ".*", ".*", vhost=vhost)
        return self.amqp_uri_for(vhost)

    def delete_vhost(self, vhost: str) -> None:
        ctl(self.node, "delete_vhost", vhost, timeout=60)

    def set_policies(self, vhost: str = "/") -> list[str]:
        """scripts/rabbitmq_policies.POLICIES on `vhost`, by rabbitmqctl (these nodes have no management
        plugin). The names applied."""
        from scripts.rabbitmq_policies import POLICIES

        for policy in POLICIES:
            ctl(self.node, "set_policy", "--priority", str(policy["priority"]), "--apply-to", policy["apply-to"],
                policy["name"], policy["pattern"], json.dumps(policy["definition"]), vhost=vhost)
        return [p["name"] for p in POLICIES]

    def policies(self, vhost: str = "/") -> list[dict]:
        return self._json(ctl(self.node, "list_policies", "--formatter", "json", "-q", vhost=vhost).stdout)

    def list_queues(self, *columns: str, vhost: str = "/", timeout: float = 30) -> list[dict]:
        """`rabbitmqctl list_queues` as dicts (columns default: name, messages, type)."""
        columns = columns or ("name", "messages", "type")
        return self._json(ctl(self.node, "list_queues", *columns, "--formatter", "json", "-q", vhost=vhost,
                              timeout=timeout).stdout)

    def dead_letters(self, vhost: str = "/") -> dict[str, int]:
        """{queue: messages} for every `.dlq` queue of `vhost`."""
        return {q["name"]: int(q.get("messages") or 0) for q in self.list_queues("name", "messages", vhost=vhost)
                if q["name"].endswith(".dlq")}

    def queue_leader(self, queue: str, vhost: str = "/") -> str:
        """The node (name@host) that leads the quorum queue `queue`."""
        for q in self.list_queues("name", "type", "leader", vhost=vhost):
            if q["name"] == queue:
                if q.get("type") != "quorum" or not q.get("leader"):
                    raise RabbitNodeError(f"{queue} is a {q.get('type')} queue: it has no leader")
                return str(q["leader"])
        raise RabbitNodeError(f"no queue {queue!r} on vhost {vhost!r} of {self.node}")

    @staticmethod
    def _json(text: str):
        text = text.strip()
        start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
        if start < 0:
            raise RabbitNodeError(f"not JSON from rabbitmqctl: {text[:300]!r}")
        return json.loads(text[start:])

    # clusters

    def join(self, first: RabbitNode, timeout: float = 60) -> None:
        """Join this node to `first`'s cluster (its own data is reset)."""
        ctl(self.node, "stop_app", timeout=timeout)
        ctl(self.node, "reset", timeout=timeout)
        ctl(self.node, "join_cluster", first.node, timeout=timeout)
        self.start_app(timeout)

    def running_nodes(self) -> list[str]:
        status = self._json(ctl(self.node, "cluster_status", "--formatter", "json", timeout=20).stdout)
        return sorted(status.get("running_nodes", []))

    @classmethod
    def find(cls, name: str) -> RabbitNode:
        """The running node `name` (started by this module, here or by another process), from its
        beam's environment."""
        for _pid, env in _beams():
            if env.get("RABBITMQ_NODENAME") == f"{name}@{HOST}" and env.get("RABBITMQ_MNESIA_BASE"):
                base = Path(env["RABBITMQ_MNESIA_BASE"]).parent
                conf = Path(env.get("RABBITMQ_CONFIG_FILE", base / "rabbitmq.conf")).read_text()
                port = int(re.search(r"listeners\.tcp\.local\s*=\s*127\.0\.0\.1:(\d+)", conf).group(1))
                return cls(name, port, int(env["RABBITMQ_DIST_PORT"]), base)
        raise RabbitNodeError(f"no node {name}@{HOST} of this module is running")


def cluster(nodes: list[RabbitNode], timeout: float = 60) -> None:
    """Join nodes 2..n to node 1 (every node must run); checks that all of them run in one cluster."""
    first, rest = nodes[0], nodes[1:]
    for node in rest:
        node.join(first, timeout)
    want = sorted(n.node for n in nodes)
    if not _wait_until(lambda: first.running_nodes() == want, timeout, 0.5):
        raise RabbitNodeError(f"cluster of {want} not formed: {first.node} sees {first.running_nodes()}")


def stale_nodes(include_manual: bool = False) -> list[tuple[int | None, Path]]:
    """(beam pid or None, base dir) of nodes under /tmp/welfare-fault-rabbit-* whose owner process is gone."""
    root = Path(tempfile.gettempdir())
    running = {}
    for pid, env in _beams():
        base = env.get("RABBITMQ_MNESIA_BASE", "")
        if Path(base).parent.name.startswith(PREFIX) and _alive(pid):
            running[Path(base).parent] = pid
    stale = []
    for base in {*root.glob(PREFIX + "*"), *running}:
        owner = base.name[len(PREFIX):].split("-", 1)[0]
        if owner == "manual" and not include_manual:
            continue
        if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
            continue
        if owner.isdigit() and int(owner) == os.getpid():
            continue
        stale.append((running.get(base), base))
    return stale


def cleanup(include_manual: bool = False) -> list[str]:
    """Kill the stale nodes (kill -9: their owner is gone, nothing to save) and remove their directories."""
    removed = []
    for pid, base in stale_nodes(include_manual):
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_until(lambda p=pid: not _alive(p), 10, 0.05)
        shutil.rmtree(base, ignore_errors=True)
        removed.append(f"{base}{f' (pid {pid} killed)' if pid else ''}")
    return removed


def running_nodes_of_module() -> list[RabbitNode]:
    found = []
    for _pid, env in _beams():
        base = Path(env.get("RABBITMQ_MNESIA_BASE", "/")).parent
        if base.name.startswith(PREFIX):
            try:
                found.append(RabbitNode.find(env["RABBITMQ_NODENAME"].split("@")[0]))
            except (RabbitNodeError, OSError, AttributeError):
                pass
    return found


def _node(name: str) -> RabbitNode:
    return RabbitNode.find(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extra RabbitMQ nodes for fault testing",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="start a node")
    p.add_argument("name")
    p.add_argument("--port", type=int)
    p.add_argument("--dist-port", type=int)
    p.add_argument("--dir", help="its data directory (default: a new one under /tmp)")
    p = sub.add_parser("cluster", help="start the nodes not running and join 2..n to 1")
    p.add_argument("names", nargs="+")
    p = sub.add_parser("restart", help="stop_app, wait --down seconds, start_app")
    p.add_argument("name")
    p.add_argument("--down", type=float, default=0)
    p = sub.add_parser("kill", help="kill -9 of the node's beam process")
    p.add_argument("name")
    p.add_argument("--restart", action="store_true", help="and start it again on the same data")
    p = sub.add_parser("alarm", help="raise or clear a resource alarm")
    p.add_argument("name")
    p.add_argument("kind", choices=["memory", "disk"])
    p.add_argument("state", choices=["on", "off"])
    p = sub.add_parser("leader", help="the node leading a quorum queue")
    p.add_argument("name")
    p.add_argument("queue")
    p.add_argument("--vhost", default="/")
    for command in ("policies", "queues"):
        p = sub.add_parser(command)
        p.add_argument("name")
        p.add_argument("--vhost", default="/")
    sub.add_parser("list", help="the nodes of this module running now")
    p = sub.add_parser("stop", help="stop nodes and remove their directories")
    p.add_argument("names", nargs="+")
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p = sub.add_parser("cleanup", help="kill nodes whose test process is gone")
    p.add_argument("--all", action="store_true", help="also the nodes started from this command line")
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            node = RabbitNode(args.name, args.port, args.dist_port, args.dir, owner="manual")
            took = node.start()
            print(f"{node.node} up in {took:.1f}s: {node.amqp_uri}  (data {node.base_dir})")
        elif args.command == "cluster":
            nodes = []
            for name in args.names:
                try:
                    nodes.append(RabbitNode.find(name))
                except RabbitNodeError:
                    node = RabbitNode(name, owner="manual")
                    node.start()
                    nodes.append(node)
            cluster(nodes)
            for node in nodes:
                print(f"{node.node}: {node.amqp_uri}")
        elif args.command == "restart":
            print(f"closed for {_node(args.name).restart(args.down):.1f}s")
        elif args.command == "kill":
            node = _node(args.name)
            print(f"killed pid {node.kill9()}")
            if args.restart:
                print(f"started again in {node.start():.1f}s")
        elif args.command == "alarm":
            node = _node(args.name)
            (node.set_memory_alarm if args.kind == "memory" else node.set_disk_alarm)(args.state == "on")
            print(node.alarms().strip())
        elif args.command == "leader":
            print(_node(args.name).queue_leader(args.queue, args.vhost))
        elif args.command == "policies":
            print(", ".join(_node(args.name).set_policies(args.vhost)))
        elif args.command == "queues":
            print(json.dumps(_node(args.name).list_queues("name", "messages", "type", "leader", vhost=args.vhost),
                             indent=1))
        elif args.command == "list":
            for node in running_nodes_of_module():
                print(f"{node.node}: {node.amqp_uri}  (data {node.base_dir})")
        elif args.command == "stop":
            for name in args.names:
                _node(name).stop(remove=not args.keep)
                print(f"stopped {name}@{HOST}")
        elif args.command == "cleanup":
            for line in cleanup(args.all):
                print(f"removed {line}")
    except RabbitNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
