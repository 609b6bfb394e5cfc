"""Agent config loading and logging setup."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from baton.agents import DEFAULT_AGENTS_FILE, AgentConfigError, load_agents
from baton.contracts import Usage
from baton.logs import configure_logging
from baton.temporal import connect_config, task_queue

TEAM = {"researcher", "writer", "critic", "editor", "planner", "reviewer", "classifier", "summarizer"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(text)
    return path


def test_shipped_team_loads_with_defaults_and_schemas():
    registry = load_agents(DEFAULT_AGENTS_FILE, env={})
    assert TEAM <= set(registry.names)
    critic = registry.get("critic")
    assert critic.output_schema == "Critique" and critic.temperature == 0.2
    assert critic.retry.maximum_attempts == 5 and critic.heartbeat_seconds == 10


def test_env_overrides_default_model_and_max_tokens_but_not_explicit_values(tmp_path):
    path = write(tmp_path, '[defaults]\nmodel = "a"\nmax_tokens = 100\n[agents.x]\ninstructions = "i"\n'
                 '[agents.y]\ninstructions = "i"\nmodel = "pinned"\nmax_tokens = 5\n')
    registry = load_agents(path, env={"BATON_MODEL": "b", "BATON_MAX_TOKENS": "50"})
    assert (registry.get("x").model, registry.get("x").max_tokens) == ("b", 50)
    assert (registry.get("y").model, registry.get("y").max_tokens) == ("pinned", 5)


def test_retry_table_merges_field_by_field(tmp_path):
    path = write(tmp_path, '[defaults]\nmodel = "m"\n[defaults.retry]\nmaximum_attempts = 9\ninitial_interval_seconds = 3\n'
                 '[agents.x]\ninstructions = "i"\nretry = { maximum_attempts = 2 }\n')
    retry = load_agents(path, env={}).get("x").retry
    assert (retry.maximum_attempts, retry.initial_interval_seconds) == (2, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\nmodel = 'm'\n", "no agents defined"),
        ("[agents.x\n", "invalid TOML"),
        ("[agents.x]\ninstructions = 'i'\n", "agent 'x': model"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\ntemperature = 9\n", "agent 'x': temperature"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\ntemprature = 1\n", "temprature"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\noutput_schema = 'Nope'\n", "unknown output schema 'Nope'"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\noutput_schema = 'os:path'\n", "not a pydantic model"),
        ("[defaults]\nmodel = 'm'\n[agents.'bad name']\ninstructions = 'i'\n", "agent 'bad name': name"),
        ("[agent.x]\ninstructions = 'i'\n", "unknown top-level tables ['agent']"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\nfallback_agents = ['y']\n", "agent 'x': unknown fallback agents ['y']"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\nfallback_agents = ['x']\n", "cannot be its own fallback"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n[prices.m]\ninput_usd_per_million = -1\n"
         "output_usd_per_million = 1\n", "price of model 'm': input_usd_per_million"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\ntools = ['docs.read']\n",
         "agent 'x': tool 'docs.read' names MCP server 'docs', which has no [mcp.docs] table"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n[mcp.docs]\ncommand = ['a']\nurl = 'http://h'\n",
         "MCP server 'docs': value: Value error, give either command (a stdio server) or url"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n[mcp.docs]\nurl = 'ftp://h'\n",
         "url must start with http:// or https://"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n[mcp.'my.docs']\ncommand = ['a']\n",
         "MCP server 'my.docs': name"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n[tools.search]\nneeds_aproval = true\n",
         "tool 'search': needs_aproval: Extra inputs are not permitted"),
        ("[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\nmax_turns = 0\n", "agent 'x': max_turns"),
    ],
)
def test_bad_config_is_reported_with_file_agent_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(AgentConfigError) as caught:
        load_agents(path, env={})
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_prices_turn_usage_into_cost_and_unpriced_models_cost_nothing(tmp_path):
    path = write(tmp_path, "[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\n"
                           "[prices.m]\ninput_usd_per_million = 2.5\noutput_usd_per_million = 10\n")
    registry = load_agents(path, env={})
    usage = Usage(prompt_tokens=1000, completion_tokens=200, total_tokens=1200)
    assert registry.priced("m", usage).cost_usd == pytest.approx(0.0025 + 0.002)
    assert registry.priced("other", usage).cost_usd == 0.0
    assert (registry.priced("m", usage) + registry.priced("m", usage)).cost_usd == pytest.approx(0.009)


def test_agents_files_layer_table_by_table(tmp_path):
    """BATON_AGENTS=a:b: b adds agents, tools and servers to a's, and overrides a's fields one by one."""
    base = write(tmp_path, "[defaults]\nmodel = 'm'\n[agents.x]\ninstructions = 'i'\ntemperature = 0.1\n"
                           "[agents.y]\ninstructions = 'j'\n")
    layer = tmp_path / "tools.toml"
    layer.write_text("[agents.x]\ntools = ['search', 'docs.*']\n[agents.z]\ninstructions = 'k'\n"
                     "[tools.'docs.write']\nneeds_approval = true\n"
                     "[mcp.docs]\nurl = 'http://127.0.0.1:9/mcp'\nheaders = { Authorization = 'Bearer ${DOCS_TOKEN}' }\n")
    registry = load_agents(env={"BATON_AGENTS": f"{base}:{layer}", "DOCS_TOKEN": "never-read-here"})
    assert registry.names == ["x", "y", "z"]
    x = registry.get("x")
    assert (x.instructions, x.temperature, x.tools, x.max_turns) == ("i", 0.1, ["search", "docs.*"], 10)
    assert registry.tools["docs.write"].needs_approval and registry.tools["docs.write"].timeout_seconds is None
    # The header keeps its ${VAR}: the worker reads the secret only when it connects.
    assert registry.servers["docs"].headers == {"Authorization": "Bearer ${DOCS_TOKEN}"}
    assert registry.source == f"{base}:{layer}"


def test_an_agent_a_planner_defines_gets_no_tools():
    from baton.plans import new_agent_spec
    from baton.schemas import NewAgent

    template = load_agents(DEFAULT_AGENTS_FILE, env={}).get("planner").model_copy(update={"tools": ["run_python"]})
    made = new_agent_spec(NewAgent(name="hacker", role="a hacker", instructions="Use run_python."), template)
    assert made.tools == [] and made.model == template.model


def test_missing_file_says_which_and_how_to_choose_another(tmp_path):
    with pytest.raises(AgentConfigError, match="BATON_AGENTS"):
        load_agents(tmp_path / "none.toml", env={})


def test_temporal_connection_from_standard_variables():
    config = connect_config({"TEMPORAL_ADDRESS": "temporal.example:7233", "TEMPORAL_NAMESPACE": "prod", "TEMPORAL_API_KEY": "k"})
    assert (config["target_host"], config["namespace"], config["api_key"]) == ("temporal.example:7233", "prod", "k")
    assert config["tls"] is True  # an API key implies TLS
    assert connect_config({})["target_host"] == "localhost:7233"
    assert task_queue({}) == "baton" and task_queue({"BATON_TASK_QUEUE": "q"}) == "q"


def test_json_logs_carry_bound_and_sdk_ids():
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    try:
        with structlog.contextvars.bound_contextvars(workflow_id="wf-1", activity_id="3", agent="writer"):
            structlog.get_logger("baton.agent").info("agent call started")
        # What the SDK's workflow.logger emits: a stdlib record with its context.
        logging.getLogger("temporalio.workflow").info(
            "stage failed", extra={"temporal_workflow": {"workflow_id": "wf-2", "run_id": "r", "workflow_type": "PipelineWorkflow"}}
        )
        first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    finally:
        configure_logging(level="WARNING", fmt="console", stream=io.StringIO())
    assert first["event"] == "agent call started" and first["workflow_id"] == "wf-1" and first["agent"] == "writer"
    assert second["workflow_id"] == "wf-2" and second["pattern"] == "PipelineWorkflow" and second["level"] == "info"
