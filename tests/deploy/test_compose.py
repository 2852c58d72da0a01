"""docker-compose.yml validated in Python (no Docker engine here, so no `docker compose config`):
the file is loaded with PyYAML (merge keys resolved as Compose does: shallowly), its `${...}`
interpolation is applied as Compose applies it, and every service is checked against the code:
entry points that exist, queues that are routed and consumed, settings that read each variable,
start-up order on healthy services, one beat, shared media."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from triage.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ROUTER_CONFIG = ROOT / "deploy" / "haproxy.cfg"
SETTINGS_SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "triage" / "settings").glob("*.py")))
# Secrets a production `docker compose up` must be given (the file refuses to start without them).
SECRETS = {
    "DJANGO_SECRET_KEY": "s" * 50,
    "INBOUND_EMAIL_SECRET": "inbound-secret",
    "ANYMAIL_WEBHOOK_SECRET": "user:pass",
    "KIMI_API_KEY": "sk-test",
}
_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(Exception):
    pass


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's variable substitution: ${V}, ${V:-d}, ${V-d}, ${V:?err}, ${V?err}, $V and $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        present = name in env
        empty = not env.get(name)
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else not present) else env[name]
        if op in (":?", "?"):
            if empty if op == ":?" else not present:
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        return env.get(name, "")

    return _VAR.sub(sub, value)


def _load() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return interpolate(_load(), SECRETS)


def _services(compose: dict, *, profiles: bool = False) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if profiles or not s.get("profiles")}


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _celery(service: dict) -> list[str] | None:
    command = _command(service)
    return command if command[:1] == ["celery"] else None


def _option(command: list[str], *names: str) -> str | None:
    for i, arg in enumerate(command):
        if arg in names and i + 1 < len(command):
            return command[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _workers(compose: dict) -> dict[str, list[str]]:
    return {
        name: command
        for name, service in _services(compose).items()
        if (command := _celery(service)) is not None and "worker" in command
    }


def _app_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in _services(compose).items() if s.get("image") == "triage:latest"}


def _routed_queues() -> dict[str, str]:
    """task name -> queue, for every task the app registers."""
    celery_app.loader.import_default_modules()
    routes = celery_app.conf.task_routes or {}
    default = celery_app.conf.task_default_queue or "celery"
    return {
        name: (routes.get(name) or {}).get("queue") or getattr(task, "queue", None) or default
        for name, task in celery_app.tasks.items()
        if name.startswith("triage.")
    }


def test_the_file_refuses_to_start_without_the_production_secrets():
    for missing in ("DJANGO_SECRET_KEY", "INBOUND_EMAIL_SECRET", "ANYMAIL_WEBHOOK_SECRET"):
        with pytest.raises(MissingVariable, match=missing):
            interpolate(_load(), {k: v for k, v in SECRETS.items() if k != missing})


def test_it_runs_web_the_worker_pools_beat_postgres_and_redis(compose):
    services = _services(compose)
    assert {"postgres", "redis", "migrate", "web", "beat"} <= set(services)
    assert {"media", "llm", "intake", "reports"} <= {
        q
        for command in _workers(compose).values()
        for q in (_option(command, "-Q", "--queues") or "").split(",")
    }


def test_every_queue_a_task_is_routed_to_has_a_worker_and_every_worker_queue_is_routed(compose):
    routed = _routed_queues()
    assert routed, "no triage tasks registered"
    consumed: set[str] = set()
    for name, command in _workers(compose).items():
        queues = _option(command, "-Q", "--queues")
        assert queues, f"{name} consumes no explicit queue (it would take the default one)"
        consumed |= set(queues.split(","))
    unconsumed = {task: queue for task, queue in routed.items() if queue not in consumed}
    assert not unconsumed, f"tasks routed to queues no worker consumes: {unconsumed}"
    assert consumed <= set(routed.values()), (
        f"workers on queues nothing is routed to: {consumed - set(routed.values())}"
    )
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in routed, f"beat schedules an unknown task {entry['task']}"


def test_worker_pools_match_their_workload(compose):
    pools = {}
    for name, command in _workers(compose).items():
        assert command[:3] == ["celery", "-A", "triage"] or _option(command, "-A", "--app") == "triage"
        pool = _option(command, "--pool", "-P")
        assert pool in ("prefork", "threads", "solo", "gevent", "eventlet"), f"{name}: pool {pool}"
        concurrency = int(_option(command, "--concurrency", "-c") or "0")
        assert concurrency >= 1, f"{name} sets no concurrency"
        assert "-B" not in command and "--beat" not in command, f"{name} embeds a second beat"
        for queue in (_option(command, "-Q", "--queues") or "").split(","):
            pools[queue] = pool
    assert pools["media"] == "prefork"  # CPU-bound: processes, not threads (the GIL)
    assert pools["llm"] == "threads"  # I/O-bound: waiting on Kimi


def test_beat_runs_exactly_once(compose):
    beats = [
        name
        for name, service in _services(compose, profiles=True).items()
        if (command := _celery(service)) is not None and "beat" in command
    ]
    assert beats == ["beat"]
    service = compose["services"]["beat"]
    assert service.get("deploy", {}).get("replicas", 1) == 1
    assert service.get("scale", 1) == 1


@pytest.mark.parametrize(
    ("name", "config_module"),
    [("web", "triage.gunicorn_conf"), ("web-intake", "triage.gunicorn_intake_conf")],
)
def test_each_web_pool_serves_the_wsgi_app_with_gunicorn_behind_the_router(compose, name, config_module):
    web = compose["services"][name]
    command = _command(web)
    assert command[0] == "gunicorn"
    module, _, attribute = command[1].partition(":")
    assert hasattr(importlib.import_module(module), attribute or "application")
    assert _option(command, "-c", "--config") == f"python:{config_module}"
    bind = _option(command, "--bind", "-b") or importlib.import_module(config_module).bind
    assert bind.endswith(":8000"), f"{name} binds {bind!r}"
    # reached only through the router: not published, and the client address comes by PROXY protocol
    assert not web.get("ports"), f"{name} is published past the router"
    assert _option(command, "--proxy-protocol") in ("v1", "auto")
    router = compose["services"]["router"]
    assert name in router["depends_on"]
    assert f"server {name} {name}:8000 send-proxy" in ROUTER_CONFIG.read_text()


def test_the_router_is_the_one_public_port(compose):
    published = {n: s["ports"] for n, s in _services(compose).items() if s.get("ports")}
    assert list(published) == ["router"], published
    assert any(str(p).endswith(":8000") for p in published["router"])
    mounts = [str(v).split(":") for v in compose["services"]["router"]["volumes"]]
    assert ["./deploy/haproxy.cfg", "/usr/local/etc/haproxy/haproxy.cfg", "ro"] in mounts
    assert (ROOT / "deploy" / "haproxy.cfg").is_file()


def test_every_command_is_a_real_entry_point(compose):
    for name, service in _app_services(compose).items():
        command = _command(service)
        if command[0] == "celery":
            assert _option(command, "-A", "--app") == "triage"
            assert importlib.import_module("triage.celery").app is celery_app
            assert command[3] in ("worker", "beat"), f"{name}: {command}"
        elif command[0] == "python":
            assert (ROOT / command[1]).is_file(), f"{name}: {command[1]} does not exist"
            if command[1] == "manage.py":
                from django.core.management import get_commands

                assert command[2] in get_commands(), f"{name}: no management command {command[2]}"
        else:
            assert command[0] == "gunicorn", f"{name}: unknown entry point {command[0]}"


def _reaches_healthy(compose: dict, name: str, target: str, seen: frozenset = frozenset()) -> bool:
    depends = compose["services"][name].get("depends_on") or {}
    if isinstance(depends, list):  # the short form waits for nothing but the start
        return False
    for dep, condition in depends.items():
        if dep == target and condition.get("condition") == "service_healthy":
            return True
        waits = condition.get("condition") in ("service_healthy", "service_completed_successfully")
        if dep not in seen and waits and _reaches_healthy(compose, dep, target, seen | {name}):
            return True
    return False


def test_app_services_start_after_healthy_postgres_and_redis_and_the_migration(compose):
    for dependency in ("postgres", "redis"):
        assert compose["services"][dependency].get("healthcheck", {}).get("test"), (
            f"{dependency} has no healthcheck"
        )
    for name in _app_services(compose):
        for dependency in ("postgres", "redis"):
            assert _reaches_healthy(compose, name, dependency), (
                f"{name} may start before {dependency} is healthy"
            )
        if name != "migrate":
            condition = (compose["services"][name].get("depends_on") or {}).get("migrate", {})
            assert condition.get("condition") == "service_completed_successfully", (
                f"{name} may beat the migration"
            )


def test_every_variable_given_to_the_app_is_read_by_its_settings(compose):
    read = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z0-9_]+)\"", SETTINGS_SOURCE))
    assert "DJANGO_SECRET_KEY" in read and "TRIAGE_STORAGE" in read  # the pattern finds what it must
    for name, service in _app_services(compose).items():
        unknown = set(service.get("environment") or {}) - read
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("storage", ["filesystem", "s3"])
def test_the_app_environment_loads_the_production_settings(storage: str):
    """The web service's environment, as Compose would pass it, imports triage.settings with
    DJANGO_DEBUG=0 (which fails fast on a missing secret or a bad value)."""
    env = {**SECRETS, "TRIAGE_STORAGE": storage, "TRIAGE_S3_ENDPOINT_URL": "http://minio:9000"}
    web = interpolate(_load(), env)["services"]["web"]
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRIAGE_", "DATABASE", "CELERY"))
    }
    child_env.update({k: str(v) for k, v in web["environment"].items()})
    code = (
        "import json; from triage import settings as s; "
        "print(json.dumps([s.DEBUG, s.STORAGES['default']['BACKEND'], str(s.MEDIA_ROOT), s.CELERY_BROKER_URL]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=child_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    debug, backend, media_root, broker = __import__("json").loads(out.stdout)
    assert debug is False and broker == "redis://redis:6379/0" and media_root == "/data/media"
    assert backend.endswith("S3Storage" if storage == "s3" else "FileSystemStorage")


def test_media_is_shared_by_web_and_every_worker(compose):
    """Without S3, web and the workers that read or write media mount one volume at MEDIA_ROOT."""
    media_users = ["web", "web-intake", *[n for n in _workers(compose)]]
    mounts = {}
    for name in media_users:
        service = compose["services"][name]
        root = service["environment"]["MEDIA_ROOT"]
        volumes = [str(v) for v in service.get("volumes", [])]
        named = [v.split(":")[0] for v in volumes if v.split(":")[1] == root]
        assert named, f"{name} has no volume at MEDIA_ROOT {root}"
        mounts[name] = named[0]
    assert len(set(mounts.values())) == 1, mounts
    assert next(iter(mounts.values())) in compose["volumes"]


def test_the_optional_minio_profile_is_complete(compose):
    services = compose["services"]
    assert services["minio"]["profiles"] == services["minio-bucket"]["profiles"] == ["s3"]
    assert services["minio"]["healthcheck"]["test"]
    assert services["minio-bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    # `$$` reaches the container's shell as `$`: the bucket name comes from its own environment
    script = " ".join(_command(services["minio-bucket"]))
    assert '"local/$TRIAGE_S3_BUCKET"' in script and "$$" not in script
