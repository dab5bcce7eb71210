import base64
import json

import pytest

from phasegate import secrets


@pytest.fixture(autouse=True)
def _clean() -> None:
    secrets.forget_all()


def test_plain_json_and_base64_forms_are_masked() -> None:
    token = 's3cr3t-"token"/value'
    secrets.register(token)
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    text = f"a {token} b {json.dumps(token)} c {base64.b64encode(token.encode()).decode()} {basic}"
    masked = secrets.mask(text)
    assert token not in masked
    assert json.dumps(token)[1:-1] not in masked
    assert base64.b64encode(token.encode()).decode().rstrip("=") not in masked
    assert basic[8:-8] not in masked
    assert masked.count(secrets.MASK) >= 3


def test_short_values_are_not_treated_as_secrets() -> None:
    secrets.register("on")
    assert secrets.mask("turn it on") == "turn it on"


def test_nested_data_is_masked() -> None:
    secrets.register("hunter22")
    assert secrets.mask_data({"a": ["x hunter22"], "hunter22": 1}) == {
        "a": [f"x {secrets.MASK}"], secrets.MASK: 1
    }
