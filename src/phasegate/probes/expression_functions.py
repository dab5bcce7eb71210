"""Chainsaw's functions on top of JMESPath's own (``to_number``, ``length``,
``contains``…): ``to_string`` as Go's JMESPath writes numbers, string helpers, JSON and
base64, Prometheus' text format, and the functions reading the cluster, which ask a
:class:`Cluster` the caller gives."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jmespath import functions


class ExpressionError(Exception):
    """An expression that does not parse, names an unknown binding or function, or fails."""


class Cluster:
    """What cluster-reading functions ask; phasegate's probe gives one reading the target."""

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Any:
        raise ExpressionError("x_k8s_get needs a cluster")

    def list(self, api_version: str, kind: str, namespace: str) -> Any:
        raise ExpressionError("x_k8s_list needs a cluster")

    def server_version(self) -> Any:
        raise ExpressionError("x_k8s_server_version needs a cluster")


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole(value: float) -> float:
    """Numbers as Go's JMESPath keeps them (float64), shown as integers when whole."""
    return int(value) if float(value).is_integer() else value


_F = TypeVar("_F", bound=Callable[..., Any])


def _signature(*arguments: dict[str, Any]) -> Callable[[_F], _F]:
    """jmespath's ``signature`` decorator, typed."""
    decorate: Callable[[_F], _F] = functions.signature(*arguments)
    return decorate


class ChainsawFunctions(functions.Functions):  # type: ignore[misc]
    """Chainsaw's functions over JMESPath's own (``to_number``, ``length``, ``contains``…)."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self._cluster = cluster

    @_signature({"types": []})
    def _func_to_string(self, arg: Any) -> str:
        if isinstance(arg, str):
            return arg
        return json.dumps(whole(arg) if number(arg) else arg, separators=(",", ":"))

    @_signature({"types": ["string"]})
    def _func_to_upper(self, arg: str) -> str:
        return arg.upper()

    @_signature({"types": ["string"]})
    def _func_to_lower(self, arg: str) -> str:
        return arg.lower()

    @_signature({"types": ["string"]})
    def _func_trim_space(self, arg: str) -> str:
        return arg.strip()

    @_signature({"types": ["string"]})
    def _func_json_parse(self, arg: str) -> Any:
        try:
            return json.loads(arg)
        except ValueError as exc:
            raise ExpressionError(f"json_parse: {exc}") from None

    @_signature({"types": ["string"]})
    def _func_base64_decode(self, arg: str) -> str:
        try:
            return base64.b64decode(arg, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ExpressionError(f"base64_decode: {exc}") from None

    @_signature({"types": ["string"]})
    def _func_base64_encode(self, arg: str) -> str:
        return base64.b64encode(arg.encode()).decode()

    @_signature({"types": ["string"]})
    def _func_x_metrics_decode(self, text: str) -> list[dict[str, Any]]:
        return metrics_decode(text)

    @_signature({"types": []}, {"types": ["string"]}, {"types": ["string"]},
                         {"types": ["string"]}, {"types": ["string"]})
    def _func_x_k8s_get(self, client: Any, api_version: str, kind: str, namespace: str,
                        name: str) -> Any:
        return self._cluster.get(api_version, kind, namespace, name)

    @_signature({"types": []}, {"types": ["string"]},
                         {"types": ["string"], "variadic": True})
    def _func_x_k8s_list(self, client: Any, api_version: str, kind: str, *namespace: str
                         ) -> Any:  # the namespace is optional
        return self._cluster.list(api_version, kind, namespace[0] if namespace else "")

    @_signature({"types": []}, {"types": ["string"]}, {"types": ["string"]},
                         {"types": ["string"]}, {"types": ["string"]})
    def _func_x_k8s_exists(self, client: Any, api_version: str, kind: str, namespace: str,
                           name: str) -> bool:
        return self._cluster.get(api_version, kind, namespace, name) is not None

    @_signature({"types": []})
    def _func_x_k8s_server_version(self, config: Any) -> Any:
        return self._cluster.server_version()



_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def metrics_decode(text: str) -> list[dict[str, Any]]:
    """Prometheus' text format decoded as Chainsaw's ``x_metrics_decode`` does (one sample
    a line: its labels with ``__name__``, and ``[timestamp in seconds, "value"]``)."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        if not found:
            raise ExpressionError(f"x_metrics_decode: line {number}: not a sample: {line}")
        name, labels, value, stamp = found.groups()
        metric = {"__name__": name}
        position = 0
        while labels and position < len(labels):
            label = _LABEL.match(labels, position)
            if not label:
                raise ExpressionError(f"x_metrics_decode: line {number}: bad labels")
            metric[label.group(1)] = label.group(2).encode().decode("unicode_escape")
            position = label.end()
        at = int(stamp) / 1000 if stamp else time.time()
        samples.append({"metric": metric, "value": [at, value]})
    return samples
