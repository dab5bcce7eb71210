"""The web dashboard (``phasegate serve``, optional extra ``web``): read-only pages over one
evidence store, rendered on the server, refreshed by polling fragments. The core never
imports it."""
