"""Baton: teams of AI agents run durably on Temporal."""
