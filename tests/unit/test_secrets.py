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


def test_credentials_in_urls_are_masked_without_being_registered() -> None:
    text = ("GET https://ci:Pa55-w0rd@host/x?page=2&token=abc123&X-Amz-Signature=f00d"
            "&sig=s1g&api_key=k3y&access_token=t0k&password=pw&sort=asc -> 200")
    assert secrets.mask(text) == (
        f"GET https://ci:{secrets.MASK}@host/x?page=2&token={secrets.MASK}"
        f"&X-Amz-Signature={secrets.MASK}&sig={secrets.MASK}&api_key={secrets.MASK}"
        f"&access_token={secrets.MASK}&password={secrets.MASK}&sort=asc -> 200")


def test_registered_url_credentials_are_masked_wherever_they_appear() -> None:
    secrets.register_url("https://u:p%40ss-w0rd@h/?token=t0ken-value&q=plain-value")
    masked = secrets.mask("body echoed p@ss-w0rd and t0ken-value and p%40ss-w0rd; plain-value")
    m = secrets.MASK
    assert masked == f"body echoed {m} and {m} and {m}; plain-value"


def test_ordinary_text_with_equals_signs_is_left_alone() -> None:
    text = "sorted(items, key=name) a=b&c=d https://host/path?page=2 user@example.com"
    assert secrets.mask(text) == text
