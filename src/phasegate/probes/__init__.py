"""Probes: questions asked of reality. One module per family; see :mod:`registry`."""
