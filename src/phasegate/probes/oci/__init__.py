"""Talking to OCI registries: references, credentials, tokens and a shared transport.

Shared by the ``image`` and ``registry.catalog`` probes so that many probes of one registry
reuse one connection (HTTP/2 where offered), one challenge and one token per scope.
"""
