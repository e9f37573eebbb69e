"""Timing: an honest forward-pass benchmark (engine, sample statistics, machine context)."""
