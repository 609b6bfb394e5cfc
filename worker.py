"""A Baton worker, run from a checkout: ``python worker.py``. Installed, the same
is ``baton-worker``. It connects to TEMPORAL_ADDRESS and the model endpoint in
OPENAI_BASE_URL and starts nothing else; the code is in baton/worker.py."""

from baton.worker import entry

if __name__ == "__main__":
    entry()
