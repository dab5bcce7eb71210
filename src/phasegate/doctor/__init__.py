"""``phasegate doctor``: the first-run check of a user's own setup.

Each check is a row (``report.Row``): what was checked, ok / warn / fail / skip, what was
found, and for anything not ok what to do. Nothing here changes the system: the store is
inspected read-only (a write is tried inside a transaction that is rolled back), the cluster
is asked who we are and nothing else.
"""
