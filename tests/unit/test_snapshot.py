"""The snapshot a rollback restores: what is kept of a Secret, and field paths as the API
names them in a 422's causes."""

from __future__ import annotations

from phasegate.kube import snapshot

LAST = snapshot.LAST_APPLIED


def _secret(data: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "data": data, "metadata": {
        "name": "s", "uid": "u1", "resourceVersion": "7", "managedFields": [{}],
        "annotations": annotations or {}}}


def test_a_secret_keeps_no_value_and_no_last_applied_but_says_which_changed() -> None:
    before = _secret({"a": "MQ==", "b": "Mg=="}, {LAST: '{"data":{"a":"MQ=="}}', "x": "y"})
    kept = snapshot.keep(before, _secret({"a": "MQ==", "b": "OQ==", "c": "Mw=="}))
    assert kept is not None
    assert kept["data"] == {"a": snapshot.UNCHANGED, "b": snapshot.REDACTED}
    assert kept["metadata"]["annotations"] == {"x": "y"}
    assert kept["metadata"]["managedFields"] == [{}]  # ownership is given back on rollback


def test_other_kinds_are_kept_whole() -> None:
    before = {"kind": "ConfigMap", "data": {"a": "1"},
              "metadata": {"name": "c", "annotations": {LAST: "{}"}, "managedFields": [{}]}}
    assert snapshot.keep(before, before) == before


def test_ownership_is_the_snapshots_but_for_managers_who_wrote_since() -> None:
    def entry(manager: str, fields: str, operation: str = "Apply") -> dict:
        return {"manager": manager, "operation": operation, "fieldsV1": {fields: {}}}

    previous = {"metadata": {"managedFields": [entry("phasegate", "f:a"),
                                               entry("ctl", "f:b", "Update")]}}
    written = {"metadata": {"managedFields": [entry("phasegate", "f:a", "Update"),
                                              entry("ctl", "f:b", "Update")]}}
    live = {"metadata": {"managedFields": [entry("phasegate", "f:a", "Update"),
                                           entry("ctl", "f:c", "Update")]}}
    assert snapshot.ownership(previous, written, live, "phasegate") == [
        entry("phasegate", "f:a"), entry("ctl", "f:c", "Update")]


def test_a_secret_body_takes_live_values_and_names_those_not_restored() -> None:
    kept = {"kind": "Secret", "metadata": {"name": "s", "uid": "u1"},
            "data": {"a": snapshot.UNCHANGED, "b": snapshot.REDACTED, "gone": snapshot.UNCHANGED}}
    live = _secret({"a": "MQ==", "b": "OQ==", "new": "Mw=="}, {LAST: "now"})
    body, notes = snapshot.body(kept, live)
    assert body["data"] == {"a": "MQ==", "b": "OQ=="}
    assert body["metadata"] == {"name": "s", "resourceVersion": "7",
                                "annotations": {LAST: "now"}}
    assert notes == ["the values of b, gone not restored (a Secret's values are never kept)"]


def test_keep_live_follows_api_field_paths() -> None:
    live = {"spec": {"resources": {"requests": {"storage": "2Gi"}},
                     "ports": [{"port": 1}, {"port": 2}]}}
    body = {"spec": {"resources": {"requests": {"storage": "1Gi"}},
                     "ports": [{"port": 9}], "extra": 1}}
    assert snapshot.keep_live(body, live, "spec.resources.requests[storage]")
    assert snapshot.keep_live(body, live, "spec.ports[0].port")
    assert snapshot.keep_live(body, live, "spec.extra")  # not live: dropped
    assert body == {"spec": {"resources": {"requests": {"storage": "2Gi"}},
                             "ports": [{"port": 1}]}}
    assert not snapshot.keep_live(body, live, "spec.nowhere.deep")
    assert not snapshot.keep_live(body, live, "")
