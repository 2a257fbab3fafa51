"""The authorization matrix (gateway/authorization.yaml) covers every route and agrees with the routes'
@requires marks and the services' role sets; tests/e2e/test_authorization_matrix.py walks it."""
import pytest

from common.config import Settings
from gateway.app import create_app
from gateway.auth import BENEFICIARY
from gateway.rpc import RpcClient
from services.complaints import api_keys, org
from services.payments import service as payments
from tests import authorization_matrix as matrix


class NoRpc(RpcClient):
    def call(self, service, method, *args, **kwargs):
        raise AssertionError("no RPC expected")


@pytest.fixture(scope="module")
def app():
    return create_app(NoRpc(config={}, timeout=1), Settings())


def _documented(app) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in app.api_doc["paths"].items() for method in item}


def _guarded(app) -> dict[str, tuple]:
    """Every route with a @requires mark, documented or not, and its mark."""
    found = {}
    for rule in app.url_map.iter_rules():
        access = getattr(app.view_functions[rule.endpoint], "access", None)
        if access:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found[matrix.key_of(method, rule.rule)] = access
    return found


def test_every_operation_has_an_entry_and_every_entry_an_operation(app):
    wanted = _documented(app) | set(_guarded(app))
    entries = set(matrix.operations())
    assert sorted(wanted - entries) == [], "operations without an entry in gateway/authorization.yaml"
    assert sorted(entries - wanted) == [], "entries naming no operation"


def test_each_entry_admits_exactly_whom_the_route_admits(app):
    guarded = _guarded(app)
    for key, entry in matrix.operations().items():
        roles, scope = guarded.get(key, ((), None))
        assert matrix.roles(entry) == set(roles), key
        assert entry.get("scope") == scope, key


def test_the_groups_are_the_services_role_sets():
    groups = matrix.matrix()["groups"]
    assert set(groups["all_staff"]) == set(org.ROLES)
    assert set(groups["acts_on_cases"]) == org.ACTS_ON_CASES
    assert set(groups["managers"]) == org.MANAGERS
    assert set(groups["sees_reports"]) == org.SEES_REPORTS
    assert set(groups["finance_readers"]) == payments.READS


def test_every_role_and_scope_is_a_caller_and_every_answer_is_decided():
    callers = matrix.callers()
    assert set(org.ROLES) | {BENEFICIARY} <= {matrix.role_of(c) for c in callers}
    assert set(api_keys.SCOPES) == {matrix.KEY_SCOPES[c] for c in callers if c in matrix.KEY_SCOPES}
    sight = matrix.matrix()["sight"]
    for obj in matrix.objects():  # who sees a case: READS_CASES on its path or above
        assert all(matrix.role_of(c) in org.READS_CASES for c in sight[obj]), obj
        assert set(matrix.matrix()["holders"][obj]) <= set(sight[obj]), obj
    for key, entry in matrix.operations().items():
        for caller in callers:
            for obj in (matrix.objects() if entry.get("objects") else [None]):
                assert matrix.expected(entry, caller, obj) in (200, 201, 202, 204, 400, 401, 403, 404, 409), \
                    (key, caller, obj)


def test_the_services_one_check_refuses_whoever_is_not_named_with_one_forbidden():
    from common import authorization
    from common.errors import Forbidden

    admin = {"kind": "staff", "role": "admin", "id": "6f1c2b9e-7d5a-4c1b-9a8e-2f3d4c5b6a7e", "username": "admin"}
    assert authorization.require(admin, "admin") is admin
    assert authorization.require_staff_id(admin) == admin["id"]
    integrator = {"kind": "integrator", "role": "integrator", "scopes": ["cases:read"], "id": admin["id"]}
    beneficiary = {"kind": "beneficiary", "national_id": "0499370899", "id": "a1b2"}
    for actor, check in ((None, lambda a: authorization.require(a, "admin")),
                         ({**admin, "role": "auditor"}, lambda a: authorization.require(a, "admin")),
                         (integrator, lambda a: authorization.require(a, "integrator")),  # a key is never a role
                         (integrator, authorization.require_staff_id),
                         (admin, authorization.require_beneficiary)):
        with pytest.raises(Forbidden) as refused:
            check(actor)
        assert refused.value.code == "forbidden" and refused.value.message
    assert authorization.require_beneficiary(beneficiary) == "0499370899"
