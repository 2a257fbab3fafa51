"""Run one service's process: `python -m common.run complaints` (or `transparency-feeds`, the second process
of a service that runs in two).

The same command runs a service in the local run, in docker-compose and in Kubernetes. SIGTERM stops
it gracefully: entrypoints stop taking work, in-flight workers finish and ack, unacked messages are
requeued. A worker still running SHUTDOWN_TIMEOUT seconds after SIGTERM (default 25) is killed: its
transaction rolls back and its message goes back to the queue for another replica (the inbox makes the
redelivery harmless). Kubernetes gives the process terminationGracePeriodSeconds, a little more than
SHUTDOWN_TIMEOUT, before its SIGKILL (tests/unit/test_k8s_manifests.py keeps the two in step).
"""
from common.green import monkey_patch

monkey_patch()  # before anything else imports socket or threading

import argparse  # noqa: E402
import errno  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

from common.config import SERVICES, SPLIT_PROCESSES, get_settings  # noqa: E402
from common.logs import configure_logging  # noqa: E402
from common.service_classes import process_class  # noqa: E402

_log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 25.0


def shutdown_timeout() -> float:
    return float(os.environ.get("SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT))


def run(service_cls, config: dict, timeout: float) -> None:
    """nameko's `run` (nameko.cli.run.run), with a bound on the graceful stop."""
    import eventlet
    from nameko.runners import ServiceRunner

    runner = ServiceRunner(config)
    runner.add_service(service_cls)
    stopping = []

    def stop():
        if stopping:
            return  # a second SIGTERM changes nothing
        stopping.append(True)
        _log.info("stopping: no new work; waiting up to %.0fs for workers in flight", timeout)

        def kill():
            # only the workers: the stop under way then ends as usual (consumers closed, so their
            # unacked messages are requeued; dependencies stopped)
            _log.warning("workers still running %.0fs after SIGTERM: killed; their messages go back "
                         "to the queue", timeout)
            for container in runner.containers:
                container._kill_worker_threads()  # nameko 2.14's own, used by container.kill()

        watchdog = eventlet.spawn_after(timeout, kill)
        runner.stop()
        watchdog.cancel()

    # signal handlers run in the main loop and cannot use eventlet primitives: stop in a greenlet
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(stop))
    runner.start()
    # a signal arriving while eventlet waits on a socket interrupts the main greenlet (EINTR);
    # waiting in a greenlet of its own keeps that away from the runner
    runnlet = eventlet.spawn(runner.wait)
    while True:
        try:
            runnlet.wait()
            return
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
        except KeyboardInterrupt:
            eventlet.spawn_n(stop)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run a platform service")
    parser.add_argument("service", choices=(*SERVICES, *SPLIT_PROCESSES))
    args = parser.parse_args(argv)
    configure_logging(args.service)
    settings = get_settings()
    settings.refuse_unsafe_secrets(args.service)
    # by process, not by service name: two processes of one service each have their own port
    config = {**settings.nameko_config(), "METRICS_PORT": settings.metrics_port_for(args.service)}
    run(process_class(args.service), config, shutdown_timeout())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
