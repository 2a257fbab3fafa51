"""RPC from a threaded gateway: one nameko standalone proxy per thread (they are not thread-safe),
created on first use and reused; the request id rides in the RPC context to the services' logs.

Every call has a timeout, and every service a circuit breaker: after `fail_max` consecutive
failures (no such service, no answer in time, a broken connection) calls to it fail at once for
`reset_timeout` seconds, so a stopped or slow service costs the citizen a prompt 503, not a hang.
A client's mistake (InvalidRequest, NotFound, …) is an answer, not a failure."""
from __future__ import annotations

import threading

import pybreaker
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from common.config import get_settings
from common.logs import request_id_var


class ServiceUnavailable(Exception):
    def __init__(self, service: str, reason: str, retry_after: int = 5):
        super().__init__(f"{service}: {reason}")
        self.service, self.reason, self.retry_after = service, reason, retry_after


class ServiceTimeout(Exception):
    def __init__(self, service: str, timeout: float):
        super().__init__(f"{service} did not answer within {timeout:.1f}s")
        self.service, self.timeout = service, timeout


def _is_an_answer(exc: BaseException) -> bool:
    return getattr(exc, "expected", False)


class RpcClient:
    def __init__(self, config: dict | None = None, timeout: float | None = None,
                 fail_max: int = 5, reset_timeout: float = 10.0):
        settings = get_settings()
        self.config = config or settings.nameko_config()
        self.timeout = timeout or settings.rpc_timeout
        self.fail_max, self.reset_timeout = fail_max, reset_timeout
        self._local = threading.local()
        self._all: list[ClusterRpcProxy] = []
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._lock = threading.Lock()

    def breaker(self, service: str) -> pybreaker.CircuitBreaker:
        with self._lock:
            if service not in self._breakers:
                self._breakers[service] = pybreaker.CircuitBreaker(
                    fail_max=self.fail_max, reset_timeout=self.reset_timeout, exclude=[_is_an_answer],
                    name=service, throw_new_error_on_trip=False)
            return self._breakers[service]

    def _proxy(self):
        holder = getattr(self._local, "holder", None)
        if holder is None:
            holder = ClusterRpcProxy(self.config, timeout=self.timeout)
            self._local.proxy = holder.start()
            self._local.holder = holder
            with self._lock:
                self._all.append(holder)
        holder._worker_ctx.data["request_id"] = request_id_var.get()
        return self._local.proxy

    def _call(self, service: str, method: str, *args, **kwargs):
        try:
            return getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except RpcTimeout:
            self._discard()  # a late reply must not be read as the answer to the next call
            raise
        except (ConnectionError, OSError):
            self._discard()  # a broken connection is rebuilt on the next call
            raise

    def call(self, service: str, method: str, *args, **kwargs):
        breaker = self.breaker(service)
        try:
            return breaker.call(self._call, service, method, *args, **kwargs)
        except pybreaker.CircuitBreakerError:
            raise ServiceUnavailable(service, "circuit open after repeated failures",
                                     retry_after=int(self.reset_timeout)) from None
        except UnknownService:
            raise ServiceUnavailable(service, "no instance of the service is running") from None
        except RpcTimeout:
            raise ServiceTimeout(service, self.timeout) from None
        except (ConnectionError, OSError) as exc:
            raise ServiceUnavailable(service, f"broker unreachable: {exc}") from None

    def _discard(self):
        holder = getattr(self._local, "holder", None)
        if holder is not None:
            try:
                holder.stop()
            except Exception:  # already broken
                pass
            with self._lock:
                if holder in self._all:
                    self._all.remove(holder)
        self._local.holder = self._local.proxy = None

    def close(self):
        with self._lock:
            holders, self._all = self._all, []
        for holder in holders:
            try:
                holder.stop()
            except Exception:
                pass
