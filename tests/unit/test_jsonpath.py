import pytest

from phasegate.probes import jsonpath


def test_lookup_follows_keys_and_indexes() -> None:
    document = {"items": [{"status": {"phase": "Running"}}], "a-b": 1}
    assert jsonpath.lookup(document, "$.items[0].status.phase") == "Running"
    assert jsonpath.lookup(document, "items[-1].status.phase") == "Running"
    assert jsonpath.lookup(document, '$["a-b"]') == 1
    assert jsonpath.lookup(document, "$.items[3]") is jsonpath.MISSING


def test_bad_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="bad JSON path"):
        jsonpath.parse("$.items[x")
