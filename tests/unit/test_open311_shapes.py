"""Open311 GeoReport v2 as the standard's wiki documents it (wiki.open311.org/GeoReport_v2 and its Service
Discovery page), in process with a stand-in for the complaints service: every field we answer is one the wiki
names, with the wiki's type (date-times in ISO 8601 with their offset, coordinates as numbers); the listing's
defaults and limits (the last 90 days, at most 90 days, at most 1,000); errors as GeoReport's
[{"code", "description"}]; discovery as the wiki shows it."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from common.config import Settings
from gateway.app import create_app
from gateway.rpc import RpcClient

# The fields of a service request in the wiki's "GET Service Requests" response, with their JSON types.
WIKI_REQUEST_FIELDS = {
    "service_request_id": str, "status": str, "status_notes": (str, type(None)), "service_name": str,
    "service_code": str, "description": (str, type(None)), "agency_responsible": (str, type(None)),
    "service_notice": (str, type(None)), "requested_datetime": str, "updated_datetime": str,
    "expected_datetime": str, "address": str, "address_id": (str, int), "zipcode": (str, int),
    "lat": (int, float), "long": (int, float), "media_url": str,
}
WIKI_DISCOVERY = {"changeset", "contact", "key_service", "endpoints"}
WIKI_ENDPOINT = {"specification", "url", "changeset", "type", "formats"}
CASE_ID = "0b7c9d2e-4f1a-4c3b-9e8d-7a6b5c4d3e2f"
FOUND = {"id": CASE_ID, "kind": "complaint", "kind_fa": "شکایت", "status": "open", "status_fa": "ثبت شده",
         "registered_at": "2026-12-01T09:00:00+00:00", "updated_at": "2026-12-02T10:30:00+00:00"}


class Complaints(RpcClient):
    """Answers the Open311 calls as the complaints service would; records what it was asked."""

    def __init__(self):
        super().__init__(config={"AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, timeout=1)
        self.asked: list[tuple] = []

    def call(self, service, method, *args, **kwargs):
        self.asked.append((method, *args))
        if method == "open311_requests":
            return [FOUND]
        if method == "open311_request":
            if args[0] == "4203917755102846":  # the token: with where it is about
                return {**FOUND, "location": {"lat": 35.6892, "long": 51.389, "address": "تهران، خیابان انقلاب"}}
            return FOUND if args[0] == CASE_ID else None
        raise AssertionError(f"unexpected call {service}.{method}")


@pytest.fixture
def open311():
    rpc = Complaints()
    return create_app(rpc, Settings(rate_limits_enabled=False)).test_client(), rpc


def _conforms(request: dict) -> None:
    assert set(request) <= set(WIKI_REQUEST_FIELDS), set(request) - set(WIKI_REQUEST_FIELDS)
    for field, value in request.items():
        assert isinstance(value, WIKI_REQUEST_FIELDS[field]), (field, value)
    for field in ("requested_datetime", "updated_datetime"):
        assert datetime.fromisoformat(request[field]).tzinfo is not None  # the wiki: the offset is required


def test_the_listing_is_the_last_90_days_by_default_and_keeps_the_wiki_s_fields(open311):
    client, rpc = open311
    listed = client.get("/open311/v2/requests.json")
    assert listed.status_code == 200
    [request] = listed.get_json()
    _conforms(request)
    assert request["service_request_id"] == CASE_ID and "lat" not in request  # no place in a public listing
    method, kinds, start, end, statuses, limit = rpc.asked[-1]
    assert method == "open311_requests" and kinds == [] and statuses == [] and limit == 1000
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(days=90)


def test_the_listing_takes_the_standard_s_filters(open311):
    client, rpc = open311
    answer = client.get("/open311/v2/requests.json", query_string={
        "service_code": "complaint,question", "status": "closed", "start_date": "2026-11-01T00:00:00Z"})
    assert answer.status_code == 200
    _, kinds, start, end, statuses, _ = rpc.asked[-1]
    assert kinds == ["complaint", "question"] and statuses == ["closed"]
    assert start.startswith("2026-11-01")  # and, without end_date, the 90 days after it
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(days=90)


@pytest.mark.parametrize("query, field", [
    ({"status": "pending"}, "status"),
    ({"service_code": "violation_report"}, "service_code"),  # never listed
    ({"service_code": "complaint,"}, "service_code"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"start_date": "0.5"}, "start_date"),  # a number is not ISO 8601 (pydantic alone takes it for a Unix time)
    ({"end_date": "2026-11-01"}, "end_date"),  # the wiki: a date-time, with its offset
    ({"end_date": "2026-11-01T00:00:00"}, "end_date"),
])
def test_a_wrong_filter_is_geo_report_s_400_naming_it_and_nothing_is_asked(open311, query, field):
    client, rpc = open311
    answer = client.get("/open311/v2/requests.json", query_string=query)
    assert answer.status_code == 400
    errors = answer.get_json()
    assert [set(e) for e in errors] == [{"code", "description"}] * len(errors)
    assert errors[0]["code"] == 400 and errors[0]["description"].startswith(field)
    assert rpc.asked == []


def test_a_range_over_90_days_is_cut_to_the_90_from_its_start_and_an_empty_one_lists_nothing(open311):
    """The standard lets a range span 90 days at most: the listing answers the first 90 rather than refuse, so
    that an aggregator's range is never an error; a range ending before it starts (or past the calendar) holds
    no request."""
    client, rpc = open311
    answer = client.get("/open311/v2/requests.json",
                        query_string={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"})
    assert answer.status_code == 200
    _, _, start, end, _, _ = rpc.asked[-1]
    assert (start, end) == ("2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
    for empty in ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"},
                  {"start_date": "9999-12-31T00:00:00Z"}, {"end_date": "0001-01-02T00:00:00Z"}):
        asked = len(rpc.asked)
        listed = client.get("/open311/v2/requests.json", query_string=empty)
        assert (listed.status_code, listed.get_json(), len(rpc.asked)) == (200, [], asked), empty


def test_a_request_by_id_has_no_place_and_by_its_token_has_the_place_the_app_sent(open311):
    client, _ = open311
    [by_id] = client.get(f"/open311/v2/requests/{CASE_ID}.json").get_json()
    [by_token] = client.get("/open311/v2/requests/4203917755102846.json").get_json()
    _conforms(by_id)
    _conforms(by_token)
    assert "lat" not in by_id and (by_token["lat"], by_token["long"]) == (35.6892, 51.389)
    assert by_token["address"] == "تهران، خیابان انقلاب"
    [token] = client.get("/open311/v2/tokens/4203917755102846.json").get_json()
    assert token == {"service_request_id": CASE_ID, "token": "4203917755102846"}
    assert client.get(f"/open311/v2/tokens/{CASE_ID}.json").status_code == 404  # an id is no token
    missing = client.get("/open311/v2/requests/1111222233334444.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


def test_discovery_is_as_the_wiki_shows_it(open311):
    client, _ = open311
    found = client.get("/open311/v2/discovery.json").get_json()
    assert set(found) == WIKI_DISCOVERY
    [endpoint] = found["endpoints"]
    assert set(endpoint) == WIKI_ENDPOINT
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["formats"] == ["application/json"]
    assert datetime.fromisoformat(found["changeset"]).tzinfo is not None


def test_a_date_with_an_offset_postgresql_refuses_is_asked_for_in_utc(open311):
    """ISO 8601 allows any offset; PostgreSQL refuses those beyond ±15:59 (a 500 the conformance walk found):
    the range goes to the service in UTC, the same instants."""
    client, rpc = open311
    answer = client.get("/open311/v2/requests.json", query_string={
        "start_date": "2026-01-01T12:12:52-16:36", "end_date": "2026-01-05T16:58:35+13:58"})
    assert answer.status_code == 200
    _, _, start, end, _, _ = rpc.asked[-1]
    assert (start, end) == ("2026-01-02T04:48:52+00:00", "2026-01-05T03:00:35+00:00")
