"""Execution: calling models (cache, concurrency, retries) and running a task end to end."""
