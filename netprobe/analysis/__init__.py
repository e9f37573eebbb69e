"""Counting: analytic costs from a spec, measured costs from hooks, and summaries."""
