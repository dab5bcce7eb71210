"""A real validating admission webhook the API server calls over TLS: it holds every
(non-dry-run) request for objects labelled ``phasegate-test/held`` until it is released,
so a test knows an apply is in flight, inside the API server, and can act then."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from phasegate.sandbox import SandboxInfo, connect
from tests.fixtures import pki

LABEL = "phasegate-test/held"
HOLD_AT_MOST = 25.0  # the API server gives up on a webhook after 30 s


@dataclass
class HeldWebhook:
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # operation, name, dry

    def admitted(self, name: str, *, dry_run: bool = False) -> int:
        return sum(1 for _, n, dry in self.requests if n == name and dry == dry_run)


@contextmanager
def held_webhook(cluster: SandboxInfo, namespace: str, directory: Path) -> Iterator[HeldWebhook]:
    state = HeldWebhook()
    authority = pki.authority(directory / "webhook-ca")
    issued = authority.issue(directory, "webhook", ["127.0.0.1"])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            request = review["request"]
            dry = bool(request.get("dryRun"))
            state.requests.append((request["operation"], request.get("name", ""), dry))
            if not dry:
                state.arrived.set()
                state.released.wait(HOLD_AT_MOST)
            body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                               "response": {"uid": request["uid"], "allowed": True}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = issued.server_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"held-{namespace}"
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    with connect(cluster) as api:
        api.create(path, {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
            "webhooks": [{
                "name": "held.phasegate.test", "sideEffects": "None",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 30,
                "failurePolicy": "Fail",
                "clientConfig": {"url": f"https://127.0.0.1:{server.server_port}/",
                                 "caBundle": base64.b64encode(authority.pem.read_bytes()).decode()},
                "namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": namespace}},
                "objectSelector": {"matchLabels": {LABEL: "true"}},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                           "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}],
            }]})
    try:
        yield state
    finally:
        state.released.set()
        with connect(cluster) as api:
            api.request("DELETE", f"{path}/{name}")
        server.shutdown()

