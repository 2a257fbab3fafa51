"""The demo's cases (`./dev up`) are what their routes accept: the public route refuses a channel or an urgency
(those are the staff's), so a hotline call goes in by the hotline operator's route. A case its route refuses
stopped the local run at its start (400 from /api/v1/cases) until 2026-12-07."""
from gateway.routes.casework import REGISTERING
from services.complaints.demo import DEMO_CASES, route_of
from services.complaints.demo_staff import DEMO_STAFF
from services.complaints.schemas import CitizenCaseIntake, StaffCaseIntake


def test_each_demo_case_is_accepted_by_the_route_it_is_sent_to():
    roles = {username: role for username, _, role, *_ in DEMO_STAFF}
    routes = set()
    for case in DEMO_CASES:
        path, body, by = route_of(case)
        routes.add(path)
        if by is None:
            assert path == "/api/v1/cases"
            CitizenCaseIntake.model_validate(body)  # raises on a field the public may not send
        else:
            assert path == "/api/v1/staff/cases" and roles[by] in REGISTERING
            assert StaffCaseIntake.model_validate(body).channel == case["channel"]
    assert routes == {"/api/v1/cases", "/api/v1/staff/cases"}  # both ways in are shown
