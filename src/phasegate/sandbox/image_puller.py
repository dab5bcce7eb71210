"""The sandbox's image puller: the kubelet's image pulls, for KWOK's fake nodes.

    python -m phasegate.sandbox.image_puller --api URL --ca CA --cert CRT --key KEY \\
        [--registry 127.0.0.1:PORT --registry-ca CA]

A sandbox component, started and stopped by lifecycle.py like the others. It watches
every pod; once a pod is bound to a node it asks for each image (pulls.py) and marks the
pod with the verdicts, which KWOK's stages turn into a running pod or into ErrImagePull
then ImagePullBackOff (puller.py does the work).

It starts while the API server does, and waits for it with the standard library alone:
its own imports (httpx, pydantic, the image probe) take CPU the API server's start needs
more, and the first pod comes seconds after the API server is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit


def wait_for_api(url: str, ca: Path, cert: Path, key: Path) -> None:
    """Until GET /readyz answers 200; connection errors mean "not yet"."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    where = urlsplit(url)
    while True:
        conn = http.client.HTTPSConnection(where.hostname or "", where.port, context=ctx,
                                           timeout=2.0)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="the API server's URL")
    parser.add_argument("--ca", required=True, help="the CA that signed the API server")
    parser.add_argument("--cert", required=True, help="client certificate")
    parser.add_argument("--key", required=True, help="its key")
    parser.add_argument("--registry", help="host:port of the one registry the sandbox reaches")
    parser.add_argument("--registry-ca", help="the CA that signed that registry")
    args = parser.parse_args(argv)
    ca, cert, key = Path(args.ca), Path(args.cert), Path(args.key)
    wait_for_api(args.api, ca, cert, key)
    # Only now: see the module docstring.
    from phasegate.sandbox import puller, pulls

    registry = pulls.Registry(args.registry, Path(args.registry_ca) if args.registry_ca else None)
    try:
        asyncio.run(puller.serve(args.api, ca, cert, key, registry))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
