"""The production profile (ENVIRONMENT=production): no process starts while one of its secrets holds a
development default, and the refusal names the setting, never a value; secrets are read from files
(SECRETS_DIR, as k8s/overlays/production mounts them); the development run is unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from common.config import PROJECT_ROOT, SECRET_SETTINGS, SECRETS_OF, Settings, UnsafeSettings
from scripts.processes import free_port
from tests.unit.production_profile import GOOD, production


def test_the_development_run_keeps_its_defaults_and_starts():
    settings = Settings()
    assert not settings.is_production and settings.unsafe_secrets()  # defaults, and that is fine here
    for process in SECRETS_OF:
        settings.refuse_unsafe_secrets(process)


def test_a_production_process_with_its_own_secrets_set_starts():
    for process in [*SECRETS_OF, "migrations"]:
        production().refuse_unsafe_secrets(process)


@pytest.mark.parametrize("name", [n for n in SECRET_SETTINGS if n != "token_previous_keys"])
def test_each_secret_left_at_its_default_stops_every_process_that_holds_it_naming_it(name):
    settings = production(**{name: Settings.model_fields[name].default})
    for process, held in SECRETS_OF.items():
        if name not in held:
            settings.refuse_unsafe_secrets(process)  # each pod is given only its own secrets
            continue
        with pytest.raises(UnsafeSettings) as refused:
            settings.refuse_unsafe_secrets(process)
        told = str(refused.value)
        assert name.upper() in told and process in told
        assert not any(value in told for value in GOOD.values())  # it names settings, never a value


def test_a_secret_set_to_another_s_default_empty_or_short_is_refused():
    derivation_default = Settings.model_fields["secret_derivation_key"].default
    cases = {"TOKEN_SECRET": production(token_secret=derivation_default),
             "SMS_API_KEY": production(sms_api_key=""),
             "KAVENEGAR_RECEIPT_SECRET": production(kavenegar_receipt_secret="short-secret"),
             "AMQP_URI": production(amqp_uri="amqp://guest:guest@rabbitmq:5672/"),
             "TOKEN_PREVIOUS_KEYS": production(token_previous_keys={"2026-01": Settings.model_fields["token_secret"].default})}
    for name, settings in cases.items():
        with pytest.raises(UnsafeSettings, match=name):
            settings.refuse_unsafe_secrets("some-process")
    production(sms_api_key="kavenegar-gives-short").refuse_unsafe_secrets("notifications")  # an operator's key: any length


def test_secrets_are_read_from_files_when_secrets_dir_is_set(tmp_path, monkeypatch):
    """As k8s/overlays/production mounts them: one file per setting, named as its environment variable."""
    (tmp_path / "TOKEN_SECRET").write_text(GOOD["token_secret"] + "\n")
    (tmp_path / "TOKEN_PREVIOUS_KEYS").write_text(json.dumps({"2026-01": "an-older-key-" + "x" * 32}))
    (tmp_path / "AMQP_URI").write_text(GOOD["amqp_uri"])
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    for name in ("TOKEN_SECRET", "TOKEN_PREVIOUS_KEYS", "AMQP_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(environment="production", kavenegar_receipt_secret=GOOD["kavenegar_receipt_secret"],
                        smsir_receipt_secret=GOOD["smsir_receipt_secret"], caller_signing_key=GOOD["caller_signing_key"])
    assert settings.token_secret == GOOD["token_secret"] and settings.amqp_uri == GOOD["amqp_uri"]
    assert settings.token_keys() == {"2026-01": "an-older-key-" + "x" * 32, "dev": GOOD["token_secret"]}
    settings.refuse_unsafe_secrets("gateway")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k.upper() not in {n.upper() for n in SECRET_SETTINGS}}
    return {**env, "ENVIRONMENT": "production", "METRICS_PORT": "0", "SECRETS_DIR": "", **extra}


@pytest.mark.parametrize("process, command, left_out", [
    ("notifications", [sys.executable, "-m", "common.run", "notifications"], "SMS_API_KEY"),
    ("gateway", [sys.executable, "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"],
     "TOKEN_SECRET"),
    ("relay", [sys.executable, "-m", "common.outbox.relay", "complaints"], "AMQP_URI"),
])
def test_a_real_production_process_exits_naming_the_secret_left_at_its_default(process, command, left_out):
    given = {name.upper(): value for name, value in GOOD.items() if name.upper() != left_out}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=_env(GATEWAY_PORT=str(free_port()), **given),
                          capture_output=True, text=True, timeout=90)
    assert done.returncode != 0
    assert f"{process} refuses to start: {left_out} holds a development default" in done.stderr
    assert not any(value in done.stderr + done.stdout for value in given.values())
