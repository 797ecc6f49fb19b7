"""deploy/ cannot drift from the settings object: every setting is set under its own
name, secrets only with the secrets, the values pass the settings' own checks, and
the topology (roles, Services, autoscalers, load balancer) is the one `copilot up
--replicas N` runs. Reads the files only; no Docker or Kubernetes needed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.paths import project_root
from bot.settings import BY_NAME, Settings

DEPLOY = project_root() / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose"
ROLES = {  # role → the module its container runs
    "rasa": "bot.rasa_server",
    "actions": "bot.action_server",
    "nlu": "bot.nlu.server",
}
SCHEDULER = "bot.followups.scheduler"  # one, no Service: it only sends
OURS = re.compile(r"^(COPILOT|WECOM)_")


def kubernetes_objects() -> list[dict[str, Any]]:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    found = []
    for name in listed["resources"]:
        text = (KUBERNETES / name).read_text(encoding="utf-8")
        found += [doc for doc in yaml.safe_load_all(text) if doc]
    return found


def named(kind: str, name: str) -> dict[str, Any]:
    matches = [
        o for o in kubernetes_objects() if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def check_split(plain: dict[str, str], secret: dict[str, str], where: str) -> None:
    """Every setting present once, secrets only with the secrets, nothing unknown."""
    ours_plain = {k for k in plain if OURS.match(k)}
    ours_secret = {k for k in secret if OURS.match(k)}
    assert ours_plain | ours_secret == set(BY_NAME), f"{where}: settings missing or unknown"
    assert not ours_plain & ours_secret, f"{where}: set twice"
    misplaced = sorted(
        [n for n in ours_plain if BY_NAME[n].secret]
        + [n for n in ours_secret if not BY_NAME[n].secret]
    )
    assert not misplaced, f"{where}: in the wrong place (secret or not): {misplaced}"


def checked_settings(values: dict[str, str]) -> Settings:
    """The settings these values give, as every container would check them at start."""
    settings = Settings.from_env(values)
    settings.rasa_environment()  # what the Rasa pods need on top: raises if unusable
    return settings


# -- Kubernetes ---------------------------------------------------------------------------------


def kubernetes_settings() -> tuple[dict[str, str], dict[str, str]]:
    config = named("ConfigMap", "copilot-settings")["data"]
    secret = named("Secret", "copilot-secrets")["stringData"]
    return {k: str(v) for k, v in config.items()}, {k: str(v) for k, v in secret.items()}


def test_kubernetes_configmap_and_secret_hold_every_setting() -> None:
    config, secret = kubernetes_settings()
    check_split(config, secret, "kubernetes")
    settings = checked_settings({**config, **secret})
    assert (settings.trackers, settings.locks) == ("redis", "redis")
    assert not settings.uses_sqlite


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def service_port(name: str) -> int:
    (port,) = named("Service", name)["spec"]["ports"]
    return int(port["port"])


def test_kubernetes_has_a_deployment_service_and_autoscaler_per_role() -> None:
    config, secret = kubernetes_settings()
    settings = Settings.from_env({**config, **secret})
    ports = {"rasa": settings.port, "actions": settings.actions_port, "nlu": settings.nlu_port}
    for role, module in ROLES.items():
        deployment = named("Deployment", f"copilot-{role}")
        (container,) = containers(deployment)
        assert module in " ".join(container.get("command", []) + container.get("args", []))
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"copilot-settings", "copilot-secrets"}, role
        assert container["ports"][0]["containerPort"] == ports[role]
        assert service_port(f"copilot-{role}") == ports[role]
    for role in ("rasa", "actions"):  # the autoscalers; the NLU service has one too
        hpa = named("HorizontalPodAutoscaler", f"copilot-{role}")
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", f"copilot-{role}")
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"] >= 2
    (scheduler,) = containers(named("Deployment", "copilot-scheduler"))
    assert SCHEDULER in scheduler["command"]
    assert {next(iter(s.values()))["name"] for s in scheduler["envFrom"]} == {
        "copilot-settings",
        "copilot-secrets",
    }
    rasa = named("Deployment", "copilot-rasa")
    minimum = named("HorizontalPodAutoscaler", "copilot-rasa")["spec"]["minReplicas"]
    assert rasa["spec"]["replicas"] == minimum == settings.replicas


def test_kubernetes_addresses_name_the_services() -> None:
    config, secret = kubernetes_settings()
    settings = Settings.from_env({**config, **secret})
    for url, service in (
        (settings.action_endpoint_url, "copilot-actions"),
        (settings.nlu_endpoint_url, "copilot-nlu"),
        (settings.redis_url, "copilot-redis"),
        (settings.db_url, "copilot-postgres"),
    ):
        parts = urlsplit(url)
        assert parts.hostname == service, url
        assert parts.port == service_port(service), url
    assert (settings.actions_host, settings.nlu_host) == ("0.0.0.0", "0.0.0.0")  # pods


def test_kubernetes_migration_job_and_load_balancer() -> None:
    job = named("Job", "copilot-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["copilot", "db", "upgrade"]
    template = named("ConfigMap", "copilot-nginx-template")["data"]["nginx.conf.template"]
    assert template == (DEPLOY / "nginx" / "nginx.conf.template").read_text(encoding="utf-8")
    (nginx,) = containers(named("Deployment", "copilot-nginx"))
    env = {item["name"]: item["value"] for item in nginx["env"]}
    upstream = env["NGINX_UPSTREAM_SERVERS"]
    assert upstream.startswith(f"server copilot-rasa:{service_port('copilot-rasa')}")
    front = named("Service", "copilot")
    assert front["spec"]["selector"] == {"app": "copilot-nginx"}


# -- Docker Compose -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8")))


def test_compose_env_files_hold_every_setting() -> None:
    plain = env_file(COMPOSE / "copilot.env")
    secret = env_file(COMPOSE / "secrets.env.example")
    check_split(plain, secret, "compose")
    settings = checked_settings({**plain, **secret})
    assert (settings.trackers, settings.locks, settings.replicas) == ("redis", "redis", 2)
    assert urlsplit(settings.action_endpoint_url).hostname == "actions"
    assert urlsplit(settings.nlu_endpoint_url).hostname == "nlu"
    assert urlsplit(settings.redis_url).hostname == "redis"
    assert urlsplit(settings.db_url).hostname == "postgres"
    # The database's password and the URL's are the same placeholder.
    assert urlsplit(settings.db_url).password == secret["POSTGRES_PASSWORD"]


def test_compose_runs_the_same_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "nginx", "scheduler", *ROLES} <= set(services)
    assert SCHEDULER in services["scheduler"]["command"]
    for role, module in ROLES.items():
        service = services[role]
        assert module in service["command"]
        assert service["env_file"] == ["copilot.env", "secrets.env"]
    assert services["rasa"]["deploy"]["replicas"] == int(
        env_file(COMPOSE / "copilot.env")["COPILOT_REPLICAS"]
    )
    assert services["migrate"]["command"] == ["copilot", "db", "upgrade"]
    nginx = services["nginx"]
    mounted = nginx["volumes"][0].split(":")
    assert (COMPOSE / mounted[0]).resolve() == DEPLOY / "nginx" / "nginx.conf.template"
    assert nginx["environment"]["NGINX_UPSTREAM_SERVERS"].startswith("server rasa:5005 ")
    assert "--appendonly" in services["redis"]["command"]
