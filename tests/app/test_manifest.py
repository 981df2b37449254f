"""Batch items: a URL is judged by the same address rule as a single job's."""

import uuid

import pytest

from app.errors import InvalidRequestError
from app.manifest import check_item
from app.outbound import check_url_source

TENANT = uuid.uuid4()

# Hosts written as addresses: judged without DNS, so the single-job check runs offline too.
INSIDE_URLS = [
    "http://127.0.0.1/a.mp3",
    "http://2130706433/a.mp3",
    "http://0x7f000001/a.mp3",
    "http://0177.0.0.1/a.mp3",
    "http://127.1/a.mp3",
    "http://0xa9fea9fe/latest/meta-data",
    "http://[::ffff:127.0.0.1]/a.mp3",
    "http://[::127.0.0.1]/a.mp3",
    "http://[64:ff9b::7f00:1]/a.mp3",
    "http://[2002:7f00:1::]/a.mp3",
    "http://[fe80::1%25eth0]/a.mp3",
    "http://224.0.0.1/a.mp3",
    "http://239.255.255.250:1900/",
    "http://[fec0::1]/a.mp3",
]


def item(url: str) -> dict:
    return {"custom_id": "track", "source": {"url": url}}


@pytest.mark.parametrize("url", INSIDE_URLS)
def test_an_item_url_at_an_inside_address_fails_that_item(url):
    spec = check_item(item(url), TENANT, allow_private=False, where="line 1")
    assert spec.source is None and spec.error is not None
    assert spec.error["code"] == "invalid_item" and "non-public" in spec.error["detail"]


@pytest.mark.parametrize("url", INSIDE_URLS + ["http://8.8.8.8/a.mp3", "http://[2606:4700::1]/"])
def test_an_item_url_is_refused_exactly_when_a_single_jobs_is(url):
    try:
        check_url_source(url, allow_private=False)
        single_refused = False
    except InvalidRequestError:
        single_refused = True
    spec = check_item(item(url), TENANT, allow_private=False, where="line 1")
    assert (spec.error is not None) == single_refused


def test_an_item_url_naming_a_host_is_left_to_the_fetch():
    spec = check_item(item("https://example.com/a.mp3"), TENANT, False, "line 1")
    assert spec.error is None and spec.source == {"kind": "url", "url": "https://example.com/a.mp3"}


def test_inside_addresses_are_accepted_when_private_urls_are_allowed():
    spec = check_item(item("http://2130706433/a.mp3"), TENANT, allow_private=True, where="x")
    assert spec.error is None
