"""Talking to Kubernetes: kubeconfig, an async client over httpx, discovery, watches.

Our own thin client rather than lightkube: gates need any kind (custom resources included,
found by discovery), the API's Warning headers (admission warnings on dry-run are evidence),
and raw control over watches (resume from a resourceVersion, re-list on 410). One HTTP stack
(httpx) is shared with the http and image probes.
"""
