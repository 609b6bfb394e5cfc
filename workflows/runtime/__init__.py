"""The parts a pattern workflow is composed of, one concern each (docs/architecture.md):

- ``board.StepBoard``: the steps and their states (the only writer of them);
- ``caller.AgentCaller``: agent specs, the fallback chain, retry policy, usage and cost;
- ``gates``: the pause gate, review gates and the budget;
- ``timeline.Timeline``: outputs, feedback, checkpoints, snapshots and jumps (feedback, rewind);
- ``ending.RunEnd``: how a run ends (failure, cancel, partial outputs in the memo);
- ``publishing``: status, the Web UI's details and the search attributes.
- ``dag.run_dag``: steps run as soon as what they need is done, the failure gate, re-runs;
- ``parallel``: bounded, deterministic parallelism.

``workflows/control.py`` composes them into ``ControlPlane`` with the steering
handlers. Deterministic code only: no I/O, clock or randomness.
"""
