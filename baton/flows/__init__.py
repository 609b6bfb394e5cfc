"""Flows: graphs of agents, code steps, people and patterns that users write as
data (``FlowInput``), checked before anything runs and run by ``FlowWorkflow``.

Pure modules (no I/O): the workflow sandbox passes the package through.
"""
