"""Tests for the JSON-LD context Link header parser and formatter.

ETSI GS CIM 009 v1.8 §6.3.5, RFC 8288.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.jsonld.link import JSONLD_CONTEXT_REL, format_link_header, parse_link_header

CTX = "https://example.org/ctx.jsonld"


def test_format_is_the_spec_form() -> None:
    assert format_link_header(CTX) == (
        f'<{CTX}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"')


@pytest.mark.parametrize("header", [
    f'<{CTX}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"',
    f"<{CTX}>;rel={JSONLD_CONTEXT_REL};type=application/ld+json",
    f'<{CTX}>; REL="{JSONLD_CONTEXT_REL}"',
    f'<https://other/x>; rel="next", <{CTX}>; rel="{JSONLD_CONTEXT_REL}"',
    f'<{CTX}>; rel="alternate {JSONLD_CONTEXT_REL}"',
])
def test_parse_finds_the_context_link(header: str) -> None:
    assert parse_link_header(header) == CTX


@pytest.mark.parametrize("header", [None, "", '<https://other/x>; rel="next"'])
def test_parse_without_context_link(header: str | None) -> None:
    assert parse_link_header(header) is None


def test_url_with_commas_and_semicolons() -> None:
    url = "https://example.org/a,b;c.jsonld"
    assert parse_link_header(format_link_header(url)) == url


@pytest.mark.parametrize("header", [
    f'<{CTX}>; rel="{JSONLD_CONTEXT_REL}", <https://x/y>; rel="{JSONLD_CONTEXT_REL}"',
    f'{CTX}; rel="{JSONLD_CONTEXT_REL}"',
    f'<>; rel="{JSONLD_CONTEXT_REL}"',
])
def test_parse_rejects_bad_headers(header: str) -> None:
    with pytest.raises(BadRequestData):
        parse_link_header(header)


@given(st.from_regex(r"https?://[a-z0-9.\-]{1,20}(:[0-9]{2,5})?/[A-Za-z0-9._~%!$&'()*+,;=:@/\-]{0,40}",
                     fullmatch=True))
def test_round_trip(url: str) -> None:
    assert parse_link_header(format_link_header(url)) == url
