"""Baton's orchestration patterns, one deterministic workflow per file; the
list the worker registers is in ``workflows.registry``.

Deliberately empty: the sandbox imports a run's workflow module afresh for
every new run, and this package's ``__init__`` with it. Importing every
pattern here made each new run import and decorate all ten (~50 ms of the
worker's CPU, `bench.profile`); now a run imports only its own."""
