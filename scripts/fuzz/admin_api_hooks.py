"""Schemathesis hooks for scripts/fuzz-admin-api (loaded through SCHEMATHESIS_HOOKS).

Two things the OpenAPI document cannot say:

- Real ids to aim at. Random strings only ever find nothing (404); these hooks mix in the ids of
  the accounts, methods, applications, sign-ins and tokens the run seeded, so that the changes and
  their rules are reached too.
- "A rejected request changes nothing." Around every call, `before_call` and `after_call` take a
  snapshot of the store: the newest audit log entry (read through the API with a separate observer
  token) and a digest of every table of the SQLite database (read-only). The check
  `no_change_from_rejected_request` then fails a response of 400 or above after which anything
  differs, and a success that changed data without writing an audit entry ("every change writes
  one"). The run uses one worker, so nothing else happens between the two snapshots.

Settings come from the environment (set by the script): POSTERN_FUZZ_BASE_URL,
POSTERN_FUZZ_OBSERVER_TOKEN, POSTERN_FUZZ_DB (the SQLite file) and POSTERN_FUZZ_FIXTURES (the
JSON that admin_api_seed.py wrote).
"""

import collections
import hashlib
import json
import os
import re
import sqlite3

import requests
import schemathesis
from hypothesis import strategies as st

BASE_URL = os.environ["POSTERN_FUZZ_BASE_URL"]
OBSERVER_TOKEN = os.environ["POSTERN_FUZZ_OBSERVER_TOKEN"]
DB_PATH = os.environ["POSTERN_FUZZ_DB"]
with open(os.environ["POSTERN_FUZZ_FIXTURES"]) as _f:
    FIXTURES: dict[str, list[str]] = json.load(_f)

# Columns an authenticated call itself may write (a token's last use): not "a change".
VOLATILE_COLUMNS = {"admin_tokens": {"last_used_ms"}}

# --- Real ids -----------------------------------------------------------------------------------


def _path_kinds(path: str) -> dict[str, str]:
    """Which fixture list each path parameter of an operation draws from."""
    names = re.findall(r"{(\w+)}", path)
    if path.endswith("/require-reregister"):
        # It removes every method: aimed at the user with methods, it would leave the method
        # operations nothing to work on.
        kinds = {"id": "user_without_methods"}
    elif path.startswith("/admin/v1/users/"):
        kinds = {"id": "user", "method": "method"}
    elif path.startswith("/admin/v1/clients/"):
        kinds = {"id": "client"}
    elif path.startswith("/admin/v1/signins/"):
        kinds = {"id": "signin"}
    elif path.startswith("/admin/v1/tokens/"):
        kinds = {"id": "token"}
    else:
        kinds = {}
    return {n: kinds[n] for n in names if n in kinds and FIXTURES.get(kinds[n])}


def _one_of_fixture(kind: str) -> st.SearchStrategy:
    return st.sampled_from(FIXTURES[kind])


# `flatmap_*` hooks see the generated value (schemathesis unwraps its negative-mode wrapper) and
# return a strategy: the value as generated, or the same value aimed at something real.


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    kinds = _path_kinds(context.operation.path)
    generated = st.just(path_parameters)
    if not kinds or not isinstance(path_parameters, dict):
        return generated
    real = st.fixed_dictionaries({name: _one_of_fixture(kind) for name, kind in kinds.items()})
    return st.one_of(generated, real.map(lambda ids: {**path_parameters, **ids}))


# Query filters that name things: the sign-in log's and the audit log's.
QUERY_KINDS = {
    "/admin/v1/signins": {"id": "signin", "user": "user", "client_id": "client"},
    "/admin/v1/audit": {"target": "user"},
}


@schemathesis.hook
def flatmap_query(context, query):
    kinds = {n: k for n, k in QUERY_KINDS.get(context.operation.path, {}).items() if FIXTURES.get(k)}
    generated = st.just(query)
    if not kinds or not isinstance(query, (dict, type(None))):
        return generated
    one = st.sampled_from(sorted(kinds)).flatmap(
        lambda name: _one_of_fixture(kinds[name]).map(lambda value: {**(query or {}), name: value})
    )
    return st.one_of(generated, one)


# Body fields that name things: the default method, and usernames (taken ones are a 409).
BODY_KINDS = {
    ("put", "/admin/v1/users/{id}/authentication/default-method"): ("method_id", "method"),
    ("post", "/admin/v1/users"): ("username", "user"),
}


@schemathesis.hook
def flatmap_body(context, body):
    op = context.operation
    aim_at = BODY_KINDS.get((op.method.lower(), op.path))
    generated = st.just(body)
    if not aim_at or not FIXTURES.get(aim_at[1]) or not isinstance(body, dict):
        return generated
    field, kind = aim_at
    return st.one_of(generated, _one_of_fixture(kind).map(lambda value: {**body, field: value}))


# --- No change from a rejected request ----------------------------------------------------------

# Schemathesis calls hooks from its worker thread; with one worker, one at a time.
_db = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
_tables = [
    name
    for (name,) in _db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    if not name.startswith("sqlite_")
]


def _table_digests() -> dict[str, str]:
    """A digest of every table's rows, volatile columns left out; one read transaction."""
    digests = {}
    _db.execute("BEGIN")
    try:
        for table in _tables:
            columns = [
                c[1]
                for c in _db.execute(f'PRAGMA table_info("{table}")')
                if c[1] not in VOLATILE_COLUMNS.get(table, ())
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            h = hashlib.sha256()
            for row in _db.execute(f'SELECT {cols} FROM "{table}" ORDER BY {order}'):
                h.update(repr(row).encode())
            digests[table] = h.hexdigest()
    finally:
        _db.execute("COMMIT")
    return digests


_observer = requests.Session()
_observer.headers["Authorization"] = f"Bearer {OBSERVER_TOKEN}"


def _newest_audit_entry() -> dict | None:
    r = _observer.get(f"{BASE_URL}/admin/v1/audit", params={"limit": 1}, timeout=30)
    r.raise_for_status()
    items = r.json()["items"]
    return items[0] if items else None


def _snapshot() -> dict:
    return {"audit": _newest_audit_entry(), "tables": _table_digests()}


# The snapshot taken before the call in flight (one worker: one call at a time), and the
# before/after pair of recent responses, by response (kept alive here so ids are not reused).
_before: dict[int, dict] = {}
_pairs: "collections.OrderedDict[int, tuple]" = collections.OrderedDict()


@schemathesis.hook
def before_call(context, case, kwargs):
    _before[id(case)] = _snapshot()


@schemathesis.hook
def after_call(context, case, response):
    before = _before.pop(id(case), None)
    if before is None:
        return
    _pairs[id(response)] = (response, before, _snapshot())
    while len(_pairs) > 2000:
        _pairs.popitem(last=False)


def _describe_audit(entry: dict | None) -> str:
    if entry is None:
        return "none"
    return f"{entry['action']} on {entry['target_type']} '{entry['target_name']}' ({entry['detail']})"


@schemathesis.check
def no_change_from_rejected_request(ctx, response, case):
    """A response of 400 or above changed nothing; a change wrote the audit log."""
    pair = _pairs.get(id(response))
    if pair is None or pair[0] is not response:
        return None
    _, before, after = pair
    changed = sorted(t for t, d in after["tables"].items() if before["tables"].get(t) != d)
    audit_moved = (before["audit"] or {}).get("id") != (after["audit"] or {}).get("id")
    if response.status_code >= 400 and (changed or audit_moved):
        raise AssertionError(
            f"Rejected request changed the store: {response.status_code} answered, yet tables "
            f"{', '.join(changed) or '(none)'} changed; newest audit entry now: "
            f"{_describe_audit(after['audit']) if audit_moved else 'unchanged'}"
        )
    # An entry written in the same millisecond as the newest one may sort below it: the table
    # tells too.
    audited = audit_moved or "audit_log" in changed
    data_changed = [t for t in changed if t != "audit_log"]
    if response.status_code < 400 and data_changed and not audited:
        raise AssertionError(
            f"Change without an audit entry: {response.status_code} answered, tables "
            f"{', '.join(data_changed)} changed, and the audit log has no new entry"
        )
    return None
