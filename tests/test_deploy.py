"""docker-compose.yml and the Dockerfile, checked without a Docker engine:
the Compose file through a real Compose-spec parser, then what the parser
does not check (references between services, secrets, scalability)."""

from __future__ import annotations

import re

import pytest
import yaml
from compose_spec import PyCompose

from tests.conftest import REPO_ROOT

COMPOSE_TEXT = (REPO_ROOT / "docker-compose.yml").read_text()
COMPOSE = PyCompose.from_yaml(COMPOSE_TEXT).to_dict()
SERVICES = COMPOSE["services"]


def test_compose_has_the_production_services():
    assert {"postgresql", "temporal-schema", "temporal", "temporal-ui", "worker"} <= set(SERVICES)
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert "update-schema" in " ".join(SERVICES["temporal-schema"]["command"])


def test_parser_rejects_what_compose_rejects():
    # Proof that the parser above is strict, so the green test means something.
    with pytest.raises(ValueError, match="bogus"):
        PyCompose.from_yaml("services:\n  a:\n    image: x\n    bogus: 1\n")


def test_the_cluster_dispatches_agent_calls_eagerly():
    # Off by default on a Temporal server (on in the embedded dev server): without it
    # BATON_EAGER_AGENTS does nothing and every call goes through the task queue.
    temporal = SERVICES["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    mounted = {target: source for source, target, *_ in (volume.split(":") for volume in temporal["volumes"])}
    config = yaml.safe_load((REPO_ROOT / mounted[path]).read_text())
    assert config["system.enableActivityEagerExecution"] == [{"value": True}]


def test_every_dependency_names_a_service():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"


def test_worker_scales_and_takes_secrets_from_the_environment():
    worker = SERVICES["worker"]
    assert worker["build"] == "."
    assert "ports" not in worker and "container_name" not in worker  # --scale worker=N works
    assert worker["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    # Every secret is a variable reference, never a literal.
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"KEY|PASSWORD|PWD|SECRET|TOKEN", key):
                assert str(value).startswith("${"), f"{key} is hard-coded"


def test_scaled_workers_share_one_payload_store_the_worker_user_owns():
    worker, codec = SERVICES["worker"], SERVICES["codec-server"]
    for service in (worker, codec):  # the codec server reads what the workers stored
        assert service["environment"]["BATON_PAYLOAD_STORE"] == "${BATON_PAYLOAD_STORE:-file:///var/lib/baton/store}"
    assert "payload-store:/var/lib/baton/store" in worker["volumes"] and "payload-store" in COMPOSE["volumes"]
    assert "payload-store:/var/lib/baton/store:ro" in codec["volumes"]
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "chown baton /var/lib/baton/store" in dockerfile and dockerfile.index("chown baton") < dockerfile.index("USER baton")


def test_dockerfile_runs_the_worker_from_files_that_exist():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert 'CMD ["baton-worker"]' in dockerfile and 'pip install ".[worker]"' in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


def _published(service: dict) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_nothing_is_published_beyond_localhost_by_default():
    published = {name: _published(service) for name, service in SERVICES.items() if service.get("ports")}
    assert {"temporal", "temporal-ui", "codec-server"} <= set(published)
    for name, ports in published.items():
        for port in ports:  # HOST:HOST_PORT:CONTAINER_PORT, the host the loopback interface
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_codec_server_is_a_service_that_demands_a_token():
    codec = SERVICES["codec-server"]
    assert codec["build"] == "." and "baton.codec_server" in " ".join(codec["command"])
    assert codec["environment"]["BATON_CODEC_TOKEN"].startswith("${BATON_CODEC_TOKEN:?")  # no token, no start
    assert codec["environment"]["BATON_CODEC_KEYS"].startswith("${BATON_CODEC_KEYS:?")
    assert codec["environment"]["BATON_CODEC_CORS_ORIGINS"] == "http://localhost:8080"  # the UI's origin only
    assert codec["profiles"] == ["encryption"]  # started with --profile encryption
    assert SERVICES["worker"]["environment"]["BATON_CODEC_KEYS"] == "${BATON_CODEC_KEYS:-}"
