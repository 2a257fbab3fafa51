"""RPC from a threaded gateway: one nameko standalone proxy per thread (they are not thread-safe),
created on first use and reused; the request id rides in the RPC context to the services' logs."""
from __future__ import annotations

import threading

from nameko.standalone.rpc import ClusterRpcProxy

from common.config import get_settings
from common.logs import request_id_var


class RpcClient:
    def __init__(self, config: dict | None = None, timeout: float | None = None):
        settings = get_settings()
        self.config = config or settings.nameko_config()
        self.timeout = timeout or settings.rpc_timeout
        self._local = threading.local()
        self._all: list[ClusterRpcProxy] = []
        self._lock = threading.Lock()

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

    def call(self, service: str, method: str, *args, **kwargs):
        try:
            return getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except (ConnectionError, OSError):
            self._discard()  # a broken connection is rebuilt on the next call
            raise

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
