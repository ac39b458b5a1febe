"""Compose's production mode (docker-compose.prod.yml over docker-compose.yml), offline.

- Every service with encrypted columns gets its own data keys, from secret files, and
  starts with them: its settings load in production from the environment the prod
  file gives it, and its key ring is the configured one, not development keys.
- No secret has a value in any compose file or in production.env.example: the prod
  file mounts each from a file of RESCUE_SECRETS_DIR; make compose-secrets writes them.
- The development shortcuts are off: production environment, OIDC sign-in only, no
  shared JWT secret, the owner's URL in the migrate container only, ports on 127.0.0.1.
- With the compose plugin installed, `docker compose config` renders both modes.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rescue_chassis import crypto
from rescue_chassis.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
DEV = ROOT / "docker-compose.override.yml"
PROD = ROOT / "docker-compose.prod.yml"
PROD_ENV = ROOT / "deploy/compose/production.env.example"
SECRET_FILES = ROOT / "deploy/compose/secret-files.sh"
POSTGRES_INIT = ROOT / "deploy/compose/postgres-init.sh"
SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
MOUNT = "/run/secrets/"
# Settings that are secrets, by the end of their variable's name
SECRET_NAME = re.compile(
    r"(DATABASE_URL|DATA_KEYS|DATA_KEY_CURRENT|LOOKUP_KEY|JWT_SECRET|PASSWORD|"
    r"PHOTO_LINK_KEY|CLIENT_SECRET)$"
)


# ------------------------------------------------------- reading compose ---


class Override(list):
    """A list tagged !override: it replaces the base's instead of adding to it."""


class ComposeLoader(yaml.SafeLoader):
    pass


ComposeLoader.add_constructor(
    "!override", lambda loader, node: Override(loader.construct_sequence(node))
)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)  # noqa: S506


# lists compose adds to (the rest, like entrypoint and command, are replaced)
APPENDED = {"ports", "volumes", "secrets"}


def merged(base: Any, override: Any, key: str = "") -> Any:
    """``override`` on ``base`` as compose merges files."""
    if isinstance(base, dict) and isinstance(override, dict):
        return base | {k: merged(base.get(k), v, k) for k, v in override.items()}
    if key in APPENDED and isinstance(base, list) and not isinstance(override, Override):
        return base + [item for item in override if item not in base]
    return list(override) if isinstance(override, Override) else override


@cache
def production() -> dict[str, Any]:
    return merged(load(BASE), load(PROD))


def env_example(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line)
    )


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolated(value: Any, variables: dict[str, str]) -> Any:
    """``value`` with ${VAR}, ${VAR:-default} and ${VAR:?error} resolved as compose does."""
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, operator, operand = match.groups()
        found = variables.get(name, "")
        if operator and operator.endswith("?"):
            assert found, f"compose refuses to start: {operand}"
        return found or (operand if operator and operator.endswith("-") else "")

    return _VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def secrets_tool():
    spec = importlib.util.spec_from_file_location(
        "compose_secrets", ROOT / "deploy/compose/compose_secrets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def service_definition(name: str):
    return importlib.import_module(f"{name}.app").service


def encrypted_services() -> list[str]:
    return [
        name
        for name in SERVICES
        if crypto.has_encrypted_columns(service_definition(name).tables.metadata)
    ]


def environment_of(container: str, secret_values: dict[str, str]) -> dict[str, str]:
    """What the container's process sees: the prod file's environment interpolated with
    production.env.example, then every <NAME>_FILE read (deploy/compose/secret-files.sh)."""
    service = production()["services"][container]
    variables = env_example(PROD_ENV)
    env = {k: str(interpolated(v, variables)) for k, v in service["environment"].items()}
    for name in [n for n in env if n.endswith("_FILE") and env[n].startswith(MOUNT)]:
        secret = env.pop(name).removeprefix(MOUNT)
        assert secret in service["secrets"], f"{container}: {secret} is not mounted"
        env[name.removesuffix("_FILE")] = secret_values[secret]
    return env


@pytest.fixture(scope="module")
def secret_values(tmp_path_factory) -> dict[str, str]:
    """The secrets as make compose-secrets writes them."""
    folder = tmp_path_factory.mktemp("secrets") / "rescue"
    secrets_tool().write(folder)
    return {path.name: path.read_text(encoding="utf-8") for path in folder.iterdir()}


# ---------------------------------------------- data keys for every service ---


def test_the_services_that_encrypt_are_known():
    # the three of the issue, and every other service since (sealed idempotent answers)
    assert {"intake", "search", "transfer"} <= set(encrypted_services())


@pytest.mark.parametrize("name", SERVICES)
def test_each_encrypting_service_gets_its_own_data_keys_from_files(name):
    if name not in encrypted_services():
        pytest.skip(f"{name} has no encrypted column")
    p = name.upper() + "_"
    declared = production()["secrets"]
    for container in (name, f"{name}-migrate"):  # migrations seal values too
        service = production()["services"][container]
        env = service["environment"]
        assert env[f"{p}ENVIRONMENT"] == "production", container
        for setting, secret in (
            ("DATA_KEYS", "data_keys"),
            ("DATA_KEY_CURRENT", "data_key_current"),
            ("LOOKUP_KEY", "lookup_key"),
        ):
            assert env[f"{p}{setting}_FILE"] == f"{MOUNT}{name}_{secret}", (container, setting)
            assert f"{name}_{secret}" in service["secrets"], container
            assert f"{name}_{secret}" in declared
            assert f"{p}{setting}" not in env, "a value beside its file"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_starts_in_production_with_its_configured_keys(
    name, secret_values, monkeypatch
):
    definition = service_definition(name)
    prefix = name.upper() + "_"
    for variable in [v for v in os.environ if v.startswith((prefix, "RESCUE_"))]:
        monkeypatch.delenv(variable)
    for container in (name, f"{name}-migrate"):
        env = environment_of(container, secret_values)
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        settings = load_settings(definition.settings_class)
        assert settings.environment == "production"
        assert settings.oidc_enabled and settings.jwt_secret is None
        ring = crypto.configured_key_ring(settings)
        assert ring is not None, f"{container}: no data keys"
        # what the service binds: these keys, never the development ones
        started = crypto.key_ring_from_settings(settings, service=name)
        assert started.current == ring.current == secret_values[f"{name}_data_key_current"]
        # each service its own keys: none shared with another service
        assert secret_values[f"{name}_data_keys"] == env[f"{prefix}DATA_KEYS"]
        others = [secret_values[f"{o}_data_keys"] for o in SERVICES if o != name]
        assert env[f"{prefix}DATA_KEYS"] not in others


def test_without_its_data_keys_a_service_refuses_production(secret_values, monkeypatch):
    # what compose's production mode was missing: intake had no keys
    for variable in [v for v in os.environ if v.startswith(("INTAKE_", "RESCUE_"))]:
        monkeypatch.delenv(variable)
    for variable, value in environment_of("intake", secret_values).items():
        if "DATA_KEY" not in variable and "LOOKUP_KEY" not in variable:
            monkeypatch.setenv(variable, value)
    settings = load_settings(service_definition("intake").settings_class)
    with pytest.raises(crypto.KeyConfigurationError, match="INTAKE_DATA_KEYS"):
        crypto.key_ring_from_settings(settings, service="intake")


# ---------------------------------------------------- no secret inline ---


def environments(config: dict[str, Any]):
    for name, service in config.get("services", {}).items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment as a mapping"
        for variable, value in env.items():
            yield name, variable, value


def test_production_takes_every_secret_from_a_file_of_the_secrets_folder():
    prod = load(PROD)
    checked = 0
    for name, variable, value in environments(production()):
        bare = variable.removesuffix("__FILE").removesuffix("_FILE")
        if SECRET_NAME.search(bare):
            # POSTGRES_PASSWORD_FILE, GF_..._PASSWORD__FILE: the images' own convention
            assert variable != bare, f"{name}: {variable} has a value, not a file"
            assert str(value).startswith(MOUNT), f"{name}: {variable}={value}"
            secret = str(value).removeprefix(MOUNT)
            assert secret in production()["services"][name]["secrets"], (name, secret)
            checked += 1
        assert not re.search(r"://[^/@\s:]+:[^@\s]+@", str(value)), f"{name}: {variable}"
    assert checked >= 6 * 4 + 2, f"only {checked} secret settings: has the file changed shape?"
    for secret, source in prod["secrets"].items():
        assert set(source) == {"file"}, f"{secret}: from a file, not a value"
        assert re.fullmatch(
            r"\$\{RESCUE_SECRETS_DIR(:\?[^}]*)?\}/" + re.escape(secret), source["file"]
        ), source


def test_no_compose_file_nor_environment_example_holds_a_secret_value():
    for path in (BASE, DEV, PROD):
        for name, variable, value in environments(load(path)):
            if SECRET_NAME.search(variable) or re.search(r"://[^/@\s:]+:[^@\s]+@", str(value)):
                # the development override reads them from the environment (.env)
                assert path == DEV, f"{path.name}: {name}.{variable}"
                assert "${" in str(value), f"{path.name}: {name}.{variable} has a value"
    production_variables = env_example(PROD_ENV)
    assert not [v for v in production_variables if SECRET_NAME.search(v)]
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", PROD.read_text("utf-8")))
    assert used <= production_variables.keys(), sorted(used - production_variables.keys())


def test_the_secrets_tool_writes_every_declared_secret_once(tmp_path):
    tool = secrets_tool()
    folder = tmp_path / "secrets"
    written = tool.write(folder)
    assert sorted(written) == sorted(production()["secrets"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path.name
        assert path.read_text(encoding="utf-8").strip(), path.name
    kept = (folder / "intake_lookup_key").read_text(encoding="utf-8")
    assert tool.write(folder) == []  # never replaced: a lookup key cannot rotate
    assert (folder / "intake_lookup_key").read_text(encoding="utf-8") == kept


# ------------------------------------------------ development shortcuts off ---


def test_production_turns_the_development_shortcuts_off():
    services = production()["services"]
    issuer = "${RESCUE_OIDC_ISSUER"
    for name in SERVICES:
        p = name.upper() + "_"
        service, migrate = services[name], services[f"{name}-migrate"]
        for env in (service["environment"], migrate["environment"]):
            assert env[f"{p}ENVIRONMENT"] == "production"
            assert env[f"{p}OIDC_ISSUER"].startswith(issuer)
            assert not [v for v in env if v.startswith(f"{p}JWT_SECRET")], name
        # the owner's URL only where migrations run, and they run before the service
        assert f"{p}OWNER_DATABASE_URL_FILE" in migrate["environment"]
        assert f"{name}_owner_database_url" in migrate["secrets"]
        assert f"{name}_owner_database_url" not in service["secrets"]
        assert not [v for v in service["environment"] if "OWNER" in v], name
        assert "migrate" not in " ".join(service["command"])
        assert migrate["command"][-1] == "migrate"
        condition = service["depends_on"][f"{name}-migrate"]["condition"]
        assert condition == "service_completed_successfully"
        assert migrate["image"] == service["image"]
        for container in (service, migrate):
            assert container["entrypoint"] == ["/bin/sh", "/rescue/secret-files.sh"]
    console = services["console"]["environment"]
    assert "CONSOLE_DEV_JWT_SECRET" not in console
    assert console["CONSOLE_OIDC_ISSUER"].startswith(issuer)
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host"


def test_both_override_files_follow_the_compose_spec():
    # vendored by check-jsonschema (a dev dependency): no network needed
    ref = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(ref.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for config in (load(DEV), load(PROD), production()):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(config)]
        assert errors == []
    broken = production() | {"secrets": {"x": {"fil": "/tmp/x"}}}
    assert list(validator.iter_errors(broken)), "the schema checks secrets"


def test_compose_v2_is_said_to_be_needed():
    for path in (BASE, PROD, ROOT / "docs/runbook.md", ROOT / "README.md"):
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "Compose v2" in text and "name:" in text, path.name
    assert load(BASE)["name"] == "rescue-network"


# ----------------------------------------------------- the helper scripts ---


def test_secret_files_sets_each_variable_from_its_file_and_runs_the_command(tmp_path):
    (tmp_path / "intake_data_keys").write_text("k1:abc\n", encoding="utf-8")
    (tmp_path / "empty").write_text("", encoding="utf-8")
    outside = tmp_path.parent / "not-a-secret"
    outside.write_text("left alone", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_FILES_DIR": str(tmp_path),
        "INTAKE_DATA_KEYS_FILE": str(tmp_path / "intake_data_keys"),
        "CA_BUNDLE_FILE": str(outside),  # an image's own *_FILE variable
    }
    show = 'printf "%s|%s|%s" "$INTAKE_DATA_KEYS" "${INTAKE_DATA_KEYS_FILE-unset}" "${CA_BUNDLE-}"'
    run = subprocess.run(
        ["sh", str(SECRET_FILES), "sh", "-c", show],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "k1:abc|unset|"

    env["INTAKE_DATA_KEYS_FILE"] = str(tmp_path / "empty")
    run = subprocess.run(
        ["sh", str(SECRET_FILES), "true"], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 2
    assert "INTAKE_DATA_KEYS_FILE" in run.stderr


def test_postgres_init_takes_the_roles_passwords_from_the_database_urls(tmp_path):
    url = tmp_path / "intake_owner_database_url"
    url.write_text("postgresql+asyncpg://intake_owner:0a1b2c@postgres:5432/intake", "utf-8")
    text = POSTGRES_INIT.read_text(encoding="utf-8")
    function = re.search(r"^url_password\(\) \{.*?^\}", text, re.MULTILINE | re.DOTALL)
    assert function, "postgres-init.sh has no url_password"
    run = subprocess.run(
        ["bash", "-c", f'{function[0]}\nurl_password "{url}"'],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stdout) == (0, "0a1b2c")
    assert "/run/secrets/${svc}_database_url" in text
    assert "/run/secrets/${svc}_owner_database_url" in text


# ---------------------------------------------------------- docker compose ---


def compose_plugin() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed: the YAML checks above stand for `compose config`")
    found = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.skip(
            "the Docker Compose v2 plugin is not installed (`docker compose version` fails): "
            "the YAML checks above stand for `docker compose config`"
        )
    return docker


def test_docker_compose_renders_production_with_every_secret(tmp_path):
    docker = compose_plugin()
    secrets_tool().write(tmp_path / "secrets")
    env_file = tmp_path / "production.env"
    text = PROD_ENV.read_text(encoding="utf-8")
    folder = f"RESCUE_SECRETS_DIR={tmp_path / 'secrets'}"
    env_file.write_text(
        re.sub(r"^RESCUE_SECRETS_DIR=.*$", folder, text, flags=re.MULTILINE), encoding="utf-8"
    )
    rendered = subprocess.run(
        [docker, "compose", "-f", str(BASE), "-f", str(PROD), "--env-file", str(env_file)]
        + ["config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert rendered.returncode == 0, rendered.stderr
    config = json.loads(rendered.stdout)
    for name in encrypted_services():
        env = config["services"][name]["environment"]
        assert env[f"{name.upper()}_DATA_KEYS_FILE"] == f"{MOUNT}{name}_data_keys"
        assert env[f"{name.upper()}_ENVIRONMENT"] == "production"
    assert "CONSOLE_DEV_JWT_SECRET" not in config["services"]["console"]["environment"]
