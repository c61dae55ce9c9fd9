"""Prompt formats: how samples become requests, and how responses become answers."""
