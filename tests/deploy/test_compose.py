"""docker-compose.yml, the Dockerfile and the Loki/Alloy/collector/Grafana files, checked offline.

No containers run here (CI has no Docker engine). The compose file is parsed and held to the
deployment rules: pinned images, a healthcheck on every long-running service, ordered start-up
through healthy / completed dependencies, no secret written inline, every ``${VAR}`` documented
in ``.env.example`` and failing with a message when unset, every mounted file present, and
worker settings that tickwatch understands. ``docker compose config`` runs too when the Docker
client has the compose plugin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tickwatch.settings import Settings, load_settings

from .grafana_model import REPO, iter_queries, load_dashboards

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
OPERATIONS = REPO / "docs" / "OPERATIONS.md"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ONE_SHOT = {"migrate", "archive"}
WORKERS = {"ingest": 9101, "load": 9102, "monitor": 9103}
EXPECTED = {
    "kafka",
    "clickhouse",
    "mailpit",
    "migrate",
    "prometheus",
    "alertmanager",
    "loki",
    "alloy",
    "otel-collector",
    "grafana",
    "s3",
    "archive",
    *WORKERS,
}
PINNED_IMAGE = re.compile(r"^[\w.\-/]+:v?\d+\.\d+\.\d+(?:\.\d+)?(?:@sha256:[0-9a-f]{64})?$")
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")
REQUIRED_MESSAGE = "copy .env.example to .env"
# Variables that may be empty in .env: optional credentials and the live symbol list.
OPTIONAL_VARIABLES = {
    "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "TICKWATCH_INGEST_SYMBOL_LIST",
    "ALPACA_KEY_ID", "ALPACA_SECRET_KEY", "POLYGON_API_KEY", "FINNHUB_API_KEY",
    "SMTP_USERNAME", "SMTP_PASSWORD",
    "STATUS_API_TOKEN",
}  # fmt: skip
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|KEY_ID|CREDENTIAL", re.IGNORECASE)


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_all_services_are_defined() -> None:
    assert set(SERVICES) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_image_is_pinned_to_a_full_version(name: str) -> None:
    service = SERVICES[name]
    image = service["image"]
    assert "latest" not in image
    if "build" in service:
        assert re.fullmatch(r"tickwatch:\$\{TICKWATCH_IMAGE_TAG:\?[^}]+\}", image), image
        assert re.fullmatch(r"\d+\.\d+\.\d+", _env_example()["TICKWATCH_IMAGE_TAG"])
    else:
        assert PINNED_IMAGE.match(image), f"{name}: {image} is not pinned to a full version"


@pytest.mark.parametrize("name", sorted(EXPECTED - ONE_SHOT))
def test_long_running_service_has_a_healthcheck_and_restarts(name: str) -> None:
    service = SERVICES[name]
    test = service["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1
    # ingest exits 0 when a replay finished: restarting it then would replay for ever.
    assert service["restart"] == ("on-failure" if name == "ingest" else "unless-stopped")
    assert service["logging"]["options"]["max-size"]


def test_migrate_is_one_shot() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert "healthcheck" not in migrate


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dependencies_wait_for_healthy_or_completed(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on must name a condition per service"
    for dependency, spec in depends.items():
        assert dependency in SERVICES
        condition = spec["condition"]
        if dependency in ONE_SHOT:
            assert condition == "service_completed_successfully", f"{name} -> {dependency}"
        else:
            assert condition == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in SERVICES[dependency]
        assert "profiles" not in SERVICES[dependency] or "profiles" in SERVICES[name]


def test_workers_start_after_their_services_and_the_migrations() -> None:
    for worker in WORKERS:
        depends = SERVICES[worker]["depends_on"]
        assert {"kafka", "clickhouse", "migrate"} <= set(depends), worker
    assert "clickhouse" in SERVICES["migrate"]["depends_on"]
    assert "mailpit" in SERVICES["monitor"]["depends_on"]


def test_alertmanager_and_the_archive_are_optional() -> None:
    assert SERVICES["alertmanager"]["profiles"] == ["alertmanager"]
    assert SERVICES["s3"]["profiles"] == SERVICES["archive"]["profiles"] == ["archive"]
    optional = {"alertmanager", "s3", "archive"}
    assert all("profiles" not in s for n, s in SERVICES.items() if n not in optional)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_secret_is_written_inline(name: str) -> None:
    for key, value in _environment(SERVICES[name]).items():
        if SECRET_KEY.search(key):
            assert VARIABLE.fullmatch(value), f"{name}: {key} must come from .env as ${{VAR}}"


def test_every_variable_is_in_env_example_and_every_example_is_used() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    text += (REPO / "cluster" / "compose.yml").read_text(encoding="utf-8")  # the cluster overlay
    used = set(VARIABLE.findall(text))
    documented = set(_env_example())
    assert not used - documented, f"missing from .env.example: {sorted(used - documented)}"
    assert not documented - used, f"unused in docker-compose.yml: {sorted(documented - used)}"


def test_every_variable_fails_with_a_message_when_unset_or_is_optional() -> None:
    """``${VAR:?copy .env.example to .env}``, or ``${VAR:-}`` if optional.

    Compose then stops with "required variable VAR is missing a value: copy .env.example to
    .env" instead of, say, pulling an image named ``tickwatch:``.
    """
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )  # fmt: skip
    bad: list[str] = []
    for match in re.finditer(r"\$\{(\w+)([^}]*)\}", text):
        name, rest = match.groups()
        wanted = ":-" if name in OPTIONAL_VARIABLES else f":?{REQUIRED_MESSAGE}"
        if rest != wanted:
            bad.append(match.group(0))
    assert not bad, f"use ${{VAR:?{REQUIRED_MESSAGE}}} (or ${{VAR:-}} if optional): {bad}"
    assert all(_env_example()[name] == "" for name in OPTIONAL_VARIABLES)


def test_env_example_has_no_real_secrets() -> None:
    for key, value in _env_example().items():
        if SECRET_KEY.search(key) and value:
            assert value.startswith("change-me"), f"{key} in .env.example looks like a secret"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_mounted_file_exists_and_volumes_are_named(name: str) -> None:
    declared = set(COMPOSE.get("volumes", {}))
    for volume in SERVICES[name].get("volumes", []):
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{name}: {source} does not exist"
        elif not source.startswith("/"):
            assert source in declared, f"{name}: volume {source} is not declared"


def test_host_ports_bind_to_the_configured_address() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert re.match(r"\$\{BIND_ADDRESS(:\?[^}]*)?\}:", str(port)), f"{name}: {port}"
    assert _env_example()["BIND_ADDRESS"] == "127.0.0.1"


def _settings_field_exists(variable: str) -> bool:
    section, _, key = variable.removeprefix("TICKWATCH_").lower().partition("_")
    field = Settings.model_fields.get(section)
    model = getattr(field, "annotation", None)
    return model is not None and key in getattr(model, "model_fields", {})


@pytest.mark.parametrize("name", sorted(WORKERS | {"migrate": 0}))
def test_worker_environment_names_real_settings(name: str) -> None:
    env = _environment(SERVICES[name])
    unknown = [k for k in env if k.startswith("TICKWATCH_") and not _settings_field_exists(k)]
    assert not unknown, f"{name}: not tickwatch settings: {unknown}"
    assert env["TICKWATCH_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["TICKWATCH_CLICKHOUSE_URL"] == "http://clickhouse:8123"
    assert env["TICKWATCH_SMTP_HOST"] == "mailpit"
    assert env["TICKWATCH_SMTP_PORT"] == "1025"
    assert env["TICKWATCH_TELEMETRY_METRICS_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", sorted(WORKERS | {"migrate": 0}))
def test_worker_environment_with_env_example_values_is_valid_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the container sees (compose variables filled from .env.example) loads cleanly."""
    example = _env_example()
    for variable in list(os.environ):
        if variable.startswith("TICKWATCH_"):
            monkeypatch.delenv(variable)
    for key, value in _environment(SERVICES[name]).items():
        monkeypatch.setenv(key, VARIABLE.sub(lambda m: example[m.group(1)], value))
    settings = load_settings(_env_file=None)
    assert settings.kafka.bootstrap == "kafka:9092"
    ch = settings.clickhouse
    if name == "migrate":  # only migrate holds the admin user (it creates the role users)
        assert ch.username == example["CLICKHOUSE_USER"]
        assert ch.password.get_secret_value() == example["CLICKHOUSE_PASSWORD"]
    else:
        assert ch.password.get_secret_value() != example["CLICKHOUSE_PASSWORD"]
    roles = {"ingest": ["telemetry"], "load": ["load", "telemetry"],
             "monitor": ["monitor", "telemetry"], "migrate": ["migrate", "telemetry"]}  # fmt: skip
    for role in roles[name]:
        user, password = ch.role_credentials(role)
        assert user == example[f"CLICKHOUSE_{role.upper()}_USER"], (name, role)
        assert password == example[f"CLICKHOUSE_{role.upper()}_PASSWORD"], (name, role)
    assert settings.smtp.recipient_list == [example["ALERT_EMAIL_TO"]]


@pytest.mark.parametrize(("name", "port"), sorted(WORKERS.items()))
def test_worker_healthcheck_and_prometheus_use_the_default_metrics_port(
    name: str, port: int
) -> None:
    defaults = Settings.model_fields[name].annotation
    assert getattr(defaults, "model_fields")["metrics_port"].default == port  # noqa: B009
    assert f"127.0.0.1:{port}/healthz" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert SERVICES[name]["command"] == [name]
    assert SERVICES[name]["environment"]["HEALTHCHECK_PORT"] == str(port)


def test_grafana_preinstalls_the_pinned_clickhouse_plugin_and_mounts_provisioning() -> None:
    """Grafana 12: ``GF_PLUGINS_PREINSTALL_SYNC`` = ``id@version``.

    The format is pkg/setting/setting_plugins.go ``processPreinstallPlugins``; the deprecated
    ``GF_INSTALL_PLUGINS`` is gone.
    """
    grafana = SERVICES["grafana"]
    env = grafana["environment"]
    assert "GF_INSTALL_PLUGINS" not in env
    plugin = env["GF_PLUGINS_PREINSTALL_SYNC"]
    assert re.fullmatch(
        r"grafana-clickhouse-datasource@\$\{GRAFANA_CLICKHOUSE_PLUGIN_VERSION:\?[^}]+\}", plugin
    ), plugin
    assert env["GF_PLUGINS_PREINSTALL_AUTO_UPDATE"] == "false"  # the pin holds
    version = _env_example()["GRAFANA_CLICKHOUSE_PLUGIN_VERSION"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    used = {
        q.target.get("pluginVersion")
        for name, dashboard in load_dashboards().items()
        for q in iter_queries(name, dashboard)
        if "pluginVersion" in q.target
    }
    assert used == {version}
    assert grafana["image"].startswith("grafana/grafana:12.")
    mounts = grafana["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/dashboards.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in mounts


def test_operations_doc_lists_every_service() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    missing = [name for name in EXPECTED if f"`{name}`" not in text]
    assert not missing, f"docs/OPERATIONS.md does not describe: {missing}"


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return [docker, "compose"] if probe.returncode == 0 else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("docker compose config not run: this Docker client has no compose plugin")
    for profile in ([], ["--profile", "alertmanager"]):
        result = subprocess.run(
            [
                *client,
                "--project-directory",
                str(REPO),
                "-f",
                str(COMPOSE_FILE),
                "--env-file",
                str(ENV_EXAMPLE),
                *profile,
                "config",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ Dockerfile, Loki


def test_dockerfile_is_multi_stage_non_root_with_tini_and_healthcheck() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.MULTILINE)
    assert [name for _, name in stages] == ["builder", "runtime"]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base.group(1))
    assert "pip wheel" in text and "--no-index" in text
    assert re.search(r"^USER tickwatch$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "tickwatch"]' in text


def test_dockerignore_keeps_secrets_and_history_out_of_the_build() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".git", ".env", ".venv", "tests"} <= set(ignored)


def test_loki_uses_filesystem_storage_with_retention() -> None:
    loki = yaml.safe_load((REPO / "loki" / "loki.yml").read_text(encoding="utf-8"))
    assert loki["common"]["storage"]["filesystem"]["chunks_directory"].startswith("/loki")
    assert loki["compactor"]["retention_enabled"] is True
    assert re.fullmatch(r"\d+h", loki["limits_config"]["retention_period"])
    assert loki["schema_config"]["configs"][0]["store"] == "tsdb"
