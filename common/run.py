"""Run one service: `python -m common.run complaints`.

The same command runs a service in the local run, in docker-compose and in Kubernetes. SIGTERM stops
it gracefully: entrypoints stop taking work, in-flight workers finish, unacked messages are requeued.
"""
from common.green import monkey_patch

monkey_patch()  # before anything else imports socket or threading

import argparse  # noqa: E402
import importlib  # noqa: E402

from common.config import SERVICES, get_settings  # noqa: E402
from common.logs import configure_logging  # noqa: E402


def service_class(name: str):
    module = importlib.import_module(f"services.{name}.service")
    return module.SERVICE


def main(argv=None) -> int:
    from nameko.cli.run import run

    parser = argparse.ArgumentParser(description="Run a platform service")
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    configure_logging(args.service)
    run([service_class(args.service)], get_settings().nameko_config())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
