"""docker-compose.yml and the Dockerfile, checked without a Docker engine:
the Compose file through a real Compose-spec parser, then what the parser
does not check (references between services, secrets, scalability)."""

from __future__ import annotations

import re

import pytest
from compose_spec import PyCompose

from tests.conftest import REPO_ROOT

COMPOSE_TEXT = (REPO_ROOT / "docker-compose.yml").read_text()
SERVICES = PyCompose.from_yaml(COMPOSE_TEXT).to_dict()["services"]


def test_compose_has_the_production_services():
    assert {"postgresql", "temporal-schema", "temporal", "temporal-ui", "worker"} <= set(SERVICES)
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert "update-schema" in " ".join(SERVICES["temporal-schema"]["command"])


def test_parser_rejects_what_compose_rejects():
    # Proof that the parser above is strict, so the green test means something.
    with pytest.raises(ValueError, match="bogus"):
        PyCompose.from_yaml("services:\n  a:\n    image: x\n    bogus: 1\n")


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


def test_dockerfile_runs_the_worker_from_files_that_exist():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert 'CMD ["baton-worker"]' in dockerfile and 'pip install ".[worker]"' in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"
