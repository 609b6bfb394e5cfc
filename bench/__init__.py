"""Baton's benchmark suite: ``python -m bench`` (``make bench``); see BENCHMARKS.md."""
