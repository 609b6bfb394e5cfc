"""The flow's pure parts, without Temporal: the condition language, the checks
run before anything starts, the builder, flow files, drawings and the code
registry."""

from __future__ import annotations

import pytest

from baton import code
from baton.code import CodeError
from baton.contracts import EdgeTaken, FlowInput
from baton.flows import expressions
from baton.flows.builder import Flow, agent, map_over
from baton.flows.checks import Knowledge, problems
from baton.flows.drawing import draw
from baton.flows.expressions import ExpressionError, Ref
from baton.flows.files import FlowFileError, read_document
from baton.schemas import BUILT_IN
from examples.flows.functions import Answer
from tests.flow_scenarios import EXAMPLES, example

OUTPUTS = {"review": {"score": 7, "verdict": "approve", "issues": ["short"], "nested": {"ok": True}},
           "draft": "The moon pulls the sea.", "goal": "Explain tides"}


def lookup(ref: Ref):
    value = OUTPUTS[ref.path[0]]
    for name in ref.path[1:]:
        if not isinstance(value, dict) or name not in value:
            raise ExpressionError(f"no field {name!r}")
        value = value[name]
    return value


@pytest.mark.parametrize(("text", "value"), [
    ("review.score >= 7", True),
    ("review.score > 7", False),
    ('review.verdict == "approve" and not review.nested.ok', False),
    ('review.verdict == "approve" or review.score < 0', True),
    ("not (review.score < 5 or review.score > 9)", True),
    ('"moon" in draft', True),
    ('"sun" not in draft', True),
    ('"short" in review.issues', True),
    ('review.verdict in ["approve", "accept"]', True),
    ("review.score != 7.5", True),
    ("review.score == 7 and review.issues", True),
    ("review.missing == null", "error"),
    ("goal == 'Explain tides'", True),
    ('review.score > "5"', "error"),
    ('1 in "abc"', "error"),
    ("review.verdict < 3", "error"),
])
def test_the_condition_language(text, value):
    tree = expressions.parse(text)
    if value == "error":
        with pytest.raises(ExpressionError):
            expressions.holds(tree, lookup)
    else:
        assert expressions.holds(tree, lookup) is value


@pytest.mark.parametrize(("text", "error"), [
    ("review.score >", "ends early"),
    ("review.score >= 7 and", "ends early"),
    ("__import__('os').system('x')", "unexpected '.' at position 17"),
    ("__import__('os')", "unexpected '(' at position 11"),
    ("review.score + 1 > 2", "unexpected '+'"),
    ("a == b c", "unexpected 'c' at position 8"),
    ("", "empty expression"),
    ("x" * 2001, "longer than 2000"),
    ("[1, 2", "ends early"),
])
def test_what_does_not_parse_says_where(text, error):
    with pytest.raises(ExpressionError, match=error.replace("(", r"\(").replace("+", r"\+")):
        expressions.parse(text)


def test_refs_lists_every_reference():
    assert [str(r) for r in expressions.refs(expressions.parse("a.b > 1 and (c in [d, 'x'] or not e.f.g)"))] == [
        "a.b", "c", "d", "e.f.g"]


KNOWN = Knowledge(agents={"planner": None, "reviewer": None, "writer": None, "classifier": "Classification", "editor": None,
                          "researcher": None, "critic": "Critique", "humanizer": None},
                  schemas={**{name: model.model_json_schema() for name, model in BUILT_IN.items()},
                           "examples.flows.functions:Answer": Answer.model_json_schema()},
                  functions={f.info.name: f.info for f in code.registered()},
                  patterns={"pipeline": {}})


def flow(nodes: list[dict], edges: list[dict], start: str = "a") -> FlowInput:
    return FlowInput.model_validate({"goal": "g", "start": start, "nodes": nodes, "edges": edges})


def node(id: str, **fields) -> dict:
    return {"id": id, "kind": "agent", "agent": "writer", **fields}


@pytest.mark.parametrize(("inp", "problem"), [
    (flow([node("a")], [{"from": "a", "to": "zz"}]), "edge 0 (a → zz): no node 'zz'"),
    (flow([node("a")], [], start="begin"), "start: no node 'begin' (nodes: a)"),
    (flow([node("a"), node("a")], []), "node 'a': two nodes have this id"),
    (flow([node("a"), node("goal")], [{"from": "a", "to": "goal"}]), "node 'goal': 'goal' is a reserved word"),
    (flow([node("a"), node("b")], []), "node 'b': cannot be reached from start 'a'"),
    (flow([node("a"), node("b")], [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]),
     "cycle a → b → a: no bound; give one of its nodes max_visits"),
    (flow([node("a", max_visits=2), node("b"), node("c")],
          [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"}]), "cycle b → c → b: no bound"),
    (flow([node("a", on_max_visits="zz")], []), "node 'a': on_max_visits names no node 'zz'"),
    (flow([node("a", agent="ghost")], []), "node 'a': unknown agent 'ghost' (agents: classifier, critic, editor, humanizer, planner, researcher, reviewer, writer)"),
    (flow([node("a", output_schema="Nope")], []), "node 'a': unknown output schema 'Nope'"),
    (flow([{"id": "a", "kind": "code", "function": "serch"}], []), "node 'a': unknown code function 'serch' (registered:"),
    (flow([{"id": "a", "kind": "code", "function": "shout", "args": {"txt": "x"}}], []),
     "node 'a': args.txt: shout takes no argument 'txt' (it takes: text)"),
    (flow([{"id": "a", "kind": "code", "function": "shout"}], []), "node 'a': args: shout needs argument 'text'"),
    (flow([{"id": "a", "kind": "code", "function": "shout", "args": {"text": "=b.x"}}], []),
     "node 'a': args.text: 'b.x' names 'b', which is no node"),
    (flow([node("a"), node("b")], [{"from": "a", "to": "b", "when": "a.score >"}]),
     "edge 0 (a → b): 'a.score >' does not parse: ends early"),
    (flow([node("a"), node("b")], [{"from": "a", "to": "b", "when": "a.score > 1"}]),
     "edge 0 (a → b): 'a.score > 1': 'a''s output is text (it has no output schema), so it has no field 'score'"),
    (flow([node("a", agent="classifier"), node("b")], [{"from": "a", "to": "b", "when": "a.lable == 'x'"}]),
     "'a': the output has no field 'lable' (fields: label, confidence, reason)"),
    (flow([node("a", output_schema="Plan"), node("b")], [{"from": "a", "to": "b", "when": "a.tasks.id == 'x'"}]),
     "'a': tasks has no fields"),
    (flow([node("a"), node("b")], [{"from": "a", "to": "b", "when": "nobody == 1"}]), "names 'nobody', which is no node"),
    (flow([node("a"), node("b"), node("c")], [{"from": "a", "to": "b", "when": "else"}, {"from": "a", "to": "c", "when": "else"}]),
     "edge 1 (a → c): a second 'else' edge out of 'a'"),
    (flow([{"id": "a", "kind": "code", "function": "shout", "args": {"text": "x"}}, node("b")],
          [{"from": "a", "to": "b", "label": "go"}]), "only an agent or a person chooses a label"),
    (flow([node("a"), {"id": "m", "kind": "map", "over": "a", "agent": "writer"}], [{"from": "a", "to": "m"}]),
     "node 'm': over 'a': is text, not a list"),
    (flow([node("a", agent="classifier"), {"id": "m", "kind": "map", "over": "a.label", "agent": "writer"}],
          [{"from": "a", "to": "m"}]), "node 'm': over 'a.label': is text, not a list"),
    (flow([node("a"), {"id": "m", "kind": "map", "over": "a.x > 1", "agent": "writer"}], [{"from": "a", "to": "m"}]),
     "node 'm': over 'a.x > 1': name an earlier output"),
    (flow([node("a"), {"id": "m", "kind": "map", "over": "goal", "agent": "writer"}], [{"from": "a", "to": "m"}]),
     "the goal is text, not a list"),
    (flow([{"id": "a", "kind": "pattern", "pattern": "conveyor"}], []), "node 'a': unknown pattern 'conveyor'"),
    (flow([node("a", context=["ghost"])], []), "node 'a': context names no node 'ghost'"),
    (flow([{"id": "a", "kind": "pattern", "pattern": "pipeline", "input": {"stages": []}}], []),
     "node 'a': input for pipeline: stages: List should have at least 1 item"),
])
def test_every_problem_is_found_before_anything_runs_naming_its_node_or_edge(inp, problem):
    found = problems(inp, KNOWN)
    assert any(problem in line for line in found), found


def test_all_problems_are_listed_at_once_and_a_good_flow_has_none():
    bad = flow([node("a", agent="ghost"), node("b"), node("c")],
               [{"from": "a", "to": "b", "when": "a.x >"}, {"from": "b", "to": "a"}])
    assert len(problems(bad, KNOWN)) == 4  # ghost, the when, the unbounded cycle, unreachable c
    for name in ("review_loop", "content_by_type", "cascade", "static_dag"):
        assert problems(example(name), KNOWN) == [], name


def test_a_map_over_a_list_field_and_an_unknown_shape_pass():
    ok = flow([node("a", output_schema="Plan"), {"id": "m", "kind": "map", "over": "a.tasks", "agent": "writer"}],
              [{"from": "a", "to": "m"}])
    assert problems(ok, KNOWN) == []
    assert problems(ok, Knowledge()) == []  # nothing known about agents: only the structure is checked


def test_the_builder_makes_the_same_data_as_the_flow_file():
    review, finalize = agent("review", "reviewer", instructions=example("review_loop").nodes[2].instructions), \
        agent("finalize", "editor", instructions="Put the parts together into the finished page.", context=["work"])
    plan = agent("plan", "planner", output_schema="Plan", max_visits=3, on_max_visits=finalize,
                 instructions=example("review_loop").nodes[0].instructions)
    work = map_over("work", "plan.tasks", agent="writer", max_parallel=4,
                    instructions="Write your task of the plan, in under 150 words.")
    plan >> work >> review
    review - "retry" >> plan
    review - "approved" >> finalize
    built = Flow("A one-page field guide to tide pools for families", start=plan).input()
    assert built == example("review_loop")


def test_builder_edges_with_conditions_else_and_failures():
    a, b, c, d = agent("a", "writer"), agent("b", "writer"), agent("c", "writer"), agent("d", "writer")
    a.when("a == 'x'") >> b
    a.otherwise() >> c
    a.on_failure() >> d
    assert Flow("g", start=a).data()["edges"] == [
        {"from": "a", "to": "b", "when": "a == 'x'"}, {"from": "a", "to": "c", "when": "else"},
        {"from": "a", "to": "d", "on": "failure"}]


def test_flow_files_read_toml_and_json_and_say_what_is_wrong(tmp_path):
    assert read_document(EXAMPLES / "static_dag.toml")["start"] == "outline"
    (tmp_path / "f.json").write_text('{"goal": "g"}')
    assert read_document(tmp_path / "f.json") == {"goal": "g"}
    (tmp_path / "bad.toml").write_text("goal = ")
    with pytest.raises(FlowFileError, match="bad.toml: invalid TOML"):
        read_document(tmp_path / "bad.toml")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(FlowFileError, match="must be an object, not a list"):
        read_document(tmp_path / "list.json")
    with pytest.raises(FlowFileError, match="input file not found"):
        read_document(tmp_path / "none.toml")


def test_the_drawing_shows_the_graph_and_the_path_taken():
    inp = example("review_loop")
    assert draw(inp).splitlines()[:2] == ["flowchart TD", '    plan["plan · planner ≤3×"]']
    taken = [EdgeTaken(source="plan", to="work", visit=1), EdgeTaken(source="work", to="review", visit=1),
             EdgeTaken(source="review", to="plan", visit=1, label="retry", back=True),
             EdgeTaken(source="plan", to="work", visit=2)]
    drawn = draw(inp, taken)
    assert 'plan ==>|"×2"| work' in drawn and 'review ==>|"retry"| plan' in drawn
    assert 'review -->|"approved"| finalize' in drawn and "class finalize notrun" in drawn


def test_code_functions_describe_their_arguments_and_refuse_what_cannot_be_described():
    info = code.find("count_up").info
    assert info.parameters["properties"]["n"] == {"default": 0, "title": "N", "type": "integer"}
    assert info.result["properties"]["done"]["type"] == "boolean" and info.retry.maximum_attempts == 3
    assert code.find("shout").info.result is None  # text
    with pytest.raises(CodeError, match=r"\*args / \*\*kwargs"):
        code.function("splat")(lambda *parts: "")
    with pytest.raises(CodeError, match="two code functions are named 'shout'"):
        code.function("shout")(lambda text: text)
    with pytest.raises(KeyError, match="unknown code function 'nope'"):
        code.find("nope")
    with pytest.raises(CodeError, match="cannot import code module 'no_such_module'"):
        code.use(env={"BATON_CODE": "no_such_module"})
