"""Baton's orchestration patterns, one deterministic workflow per file; the
list the worker registers is in ``workflows.registry``.

Deliberately empty: importing a pattern imports this package's ``__init__``.
A run whose module the sandbox imports afresh (a strict replay,
``baton/sandbox.py``) would import and decorate all ten patterns (~50 ms of
CPU, `bench.profile`); it imports only its own."""
