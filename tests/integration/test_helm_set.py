"""``set`` values reach helm as a values file: the real helm renders the public podinfo
chart from that file exactly as from the same keys given to ``helm --set``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from phasegate.kube import helm
from tests.integration.public_material import public

SET = {"ingress.enabled": True, "ingress.hosts[0].host": "shop.example",
       "ingress.hosts[0].paths[0].path": "/", "ingress.hosts[0].paths[0].pathType": "Prefix",
       r"podAnnotations.prometheus\.io/scrape": "true", "replicaCount": 3}


def test_set_keys_render_as_helm_set_renders_them(helm_binary: str, tmp_path: Path) -> None:
    values = tmp_path / "set.yaml"
    values.write_text(yaml.safe_dump(helm.nested(SET)))
    common = [helm_binary, "template", "web", str(public("podinfo-chart")), "--skip-tests"]
    from_file = subprocess.run([*common, "--values", str(values)], capture_output=True,
                               text=True, check=True).stdout
    flags = [arg for key, value in SET.items()
             for arg in ("--set-string" if isinstance(value, str) else "--set",
                         f"{key}={str(value).lower() if value is True else value}")]
    from_flags = subprocess.run([*common, *flags], capture_output=True, text=True,
                                check=True).stdout
    assert from_file == from_flags
    assert "host: \"shop.example\"" in from_file and "prometheus.io/scrape" in from_file
