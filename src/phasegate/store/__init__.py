"""The evidence store: runs, steps, observations and artifacts, kept for good."""
