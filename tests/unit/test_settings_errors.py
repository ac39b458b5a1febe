"""A service whose settings are wrong says so in one line naming the environment
variable, what is wrong and what to set, and exits non-zero without a traceback
(issue 22)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from intake.settings import IntakeSettings
from rescue_chassis.cli import EXIT_SETTINGS, main
from rescue_chassis.settings import (
    SettingsError,
    check_database_url,
    describe_settings_error,
    load_settings,
)

SERVICES = ("intake", "search", "transfer", "referral", "followup")
SECRET = "k3Jq9vLw0pXz7RtYb2Nc5Hs8Gd1Fm4Ae6Ui"


def start(service: str, **env: str) -> subprocess.Popen[str]:
    """``python -m <service> serve`` with only ``env`` of the service's settings."""
    prefix = service.upper() + "_"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    clean.update({prefix + k: v for k, v in env.items()})
    return subprocess.Popen(
        [sys.executable, "-m", service, "serve", "--port", "1"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def test_a_mysql_url_is_one_line_saying_only_postgresql_is_supported():
    process = start(
        "intake",
        DATABASE_URL="mysql://rescue:pw-never-shown@db/rescue",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        JWT_SECRET=SECRET,
    )
    code, stderr = finished(process)
    assert code == EXIT_SETTINGS != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    [line] = lines
    assert line.startswith("intake cannot start: INTAKE_DATABASE_URL is wrong: ")
    assert "only postgresql URLs are supported" in line and "postgresql+asyncpg://" in line
    assert "Traceback" not in stderr and "pw-never-shown" not in stderr


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_names_its_missing_settings_in_one_line(service, monkeypatch, capsys):
    # In process (python -m <service> is this same function; importing one takes seconds).
    prefix = service.upper() + "_"
    for name in [k for k in os.environ if k.startswith(prefix)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(prefix + "JWT_SECRET", SECRET)
    definition = importlib.import_module(f"{service}.app").service
    assert main(definition, ["serve"]) == EXIT_SETTINGS
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{service} cannot start: {prefix}DATABASE_URL is not set: set it to ")
    assert f"{prefix}KAFKA_BOOTSTRAP_SERVERS is not set" in line
    assert "database_url" not in line


def errors_of(**values) -> str:
    base = dict(database_url="postgresql://h/db", kafka_bootstrap_servers="k:9", jwt_secret=SECRET)
    with pytest.raises(ValidationError) as error:
        IntakeSettings(**{**base, **values})
    return describe_settings_error(error.value, IntakeSettings)


def test_a_wrong_value_is_named_by_its_variable_and_never_echoed():
    assert errors_of(jwt_secret="short-secret-value") == (
        "INTAKE_JWT_SECRET must be at least 32 characters"
    )
    relay = errors_of(relay_batch_size="many")
    assert relay.startswith("INTAKE_RELAY_BATCH_SIZE is wrong: Input should be a valid integer")
    assert "many" not in relay
    oidc = errors_of(oidc_issuer="https://sso.example.org/r", jwt_issuer="other")
    assert oidc == ("INTAKE_JWT_ISSUER and INTAKE_OIDC_ISSUER differ; set INTAKE_OIDC_ISSUER only")


def test_only_postgresql_urls_are_taken_and_get_the_async_driver():
    url = "postgresql+asyncpg://u:p@h:5432/db"
    assert check_database_url("postgresql://u:p@h:5432/db") == url
    assert check_database_url("postgres://u:p@h:5432/db") == url
    assert check_database_url(url) == url
    for wrong, said in (
        ("mysql://u@h/db", "only postgresql URLs are supported, not mysql://"),
        ("sqlite:///x.db", "only postgresql URLs are supported, not sqlite://"),
        ("postgresql+psycopg2://u@h/db", "the driver 'psycopg2' is not installed"),
    ):
        with pytest.raises(ValueError, match=said):
            check_database_url(wrong)


def test_load_settings_refuses_what_is_not_a_url(monkeypatch):
    monkeypatch.setenv("INTAKE_DATABASE_URL", "localhost")
    monkeypatch.setenv("INTAKE_KAFKA_BOOTSTRAP_SERVERS", "k:9")
    monkeypatch.setenv("INTAKE_JWT_SECRET", SECRET)
    with pytest.raises(SettingsError, match="INTAKE_DATABASE_URL is not a database URL"):
        load_settings(IntakeSettings)
    monkeypatch.setenv("INTAKE_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings(IntakeSettings).database_url == "postgresql+asyncpg://u@h/db"
