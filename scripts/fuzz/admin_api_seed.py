"""Gives the admin API fuzz run real things to aim at (run by scripts/fuzz-admin-api).

The accounts, applications and tokens are made beforehand with `postern admin` on the same data
directory; this script signs a user in through the browser pages to give it an authenticator app
and recovery codes, leaves a few sign-ins in the log (one success, one wrong password, one unknown
user), then reads the ids the fuzzer should use through the admin API and writes them as JSON.

    admin_api_seed.py BASE_URL OBSERVER_TOKEN PASSWORD OUT_JSON USER... --clients ID... --tokens ID...

The first USER (made with PASSWORD) gets the methods; the others are aimed at by operations that
would remove them all (require-reregister).

Only talks to BASE_URL (a server this run started on 127.0.0.1).
"""

import base64
import hashlib
import hmac
import html
import json
import re
import struct
import sys
import time
import urllib.parse

import requests


def page(session: requests.Session, base: str, path: str) -> str:
    r = session.get(base + path, timeout=10)
    r.raise_for_status()
    return r.text


def field(body: str, pattern: str) -> str:
    """The first match of `pattern` (one group) in a page, HTML-unescaped."""
    found = re.search(pattern, body)
    if not found:
        sys.exit(f"seed: the page has no {pattern!r}")
    return html.unescape(found.group(1))


def csrf(body: str) -> str:
    return field(body, r'name="csrf" value="([^"]+)"')


def post(session: requests.Session, base: str, path: str, data: dict) -> requests.Response:
    """POSTs a form as a same-origin page would."""
    r = session.post(
        base + path,
        data=data,
        headers={"Origin": base, "Sec-Fetch-Site": "same-origin"},
        timeout=30,
    )
    r.raise_for_status()
    return r


def totp(secret_b32: str, at: float, digits: int = 6, period: int = 30) -> str:
    """RFC 6238 with SHA-1, as an authenticator app computes it."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // period)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def sign_in(base: str, username: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Signs in to Security info with a password (the user has no second factor yet)."""
    s = requests.Session()
    form = page(s, base, "/account/signin")
    action = field(form, r'<form method="post" action="([^"]+)"')
    r = post(s, base, action, {"csrf": csrf(form), "username": username, "password": password})
    return s, r


def add_methods(base: str, username: str, password: str) -> None:
    """An authenticator app, then recovery codes, from Security info."""
    s, r = sign_in(base, username, password)
    if "/account/security" not in r.url:
        sys.exit(f"seed: {username} did not reach Security info: {r.url}")
    enrol = page(s, base, "/account/security/totp")
    uri = field(enrol, r'data-otpauth-uri="([^"]+)"')
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
    r = post(
        s,
        base,
        "/account/security/totp",
        {
            "csrf": csrf(enrol),
            "enrollment": field(enrol, r'name="enrollment" value="([^"]+)"'),
            "name": "Fuzz phone",
            "code": totp(secret, time.time()),
        },
    )
    if "Authenticator app added" not in r.text:
        sys.exit("seed: the authenticator app was not added")
    security = page(s, base, "/account/security")
    r = post(s, base, "/account/security/recovery-codes", {"csrf": csrf(security)})
    if r.text.count("data-recovery-code") != 10:
        sys.exit("seed: no recovery codes were made")


def failed_sign_in(base: str, username: str) -> None:
    """A sign-in with a wrong password (or an unknown username): a failure in the log."""
    sign_in(base, username, "not the password at all")


def api(base: str, token: str, path: str):
    r = requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    r.raise_for_status()
    return r.json()


def main() -> None:
    args = sys.argv[1:]
    base, observer, password, out = args[:4]
    rest = args[4:]
    users = rest[: rest.index("--clients")]
    clients = rest[rest.index("--clients") + 1 : rest.index("--tokens")]
    tokens = rest[rest.index("--tokens") + 1 :]

    with_methods = users[0]
    add_methods(base, with_methods, password)
    failed_sign_in(base, with_methods)
    failed_sign_in(base, "nobody-by-this-name")

    user_ids, without_methods, method_ids = [], [], []
    for name in users:
        u = api(base, observer, f"/admin/v1/users/{name}")
        user_ids += [u["id"], u["username"]]
        if name != with_methods:
            without_methods += [u["id"], u["username"]]
        method_ids += [m["id"] for m in api(base, observer, f"/admin/v1/users/{u['id']}/authentication/methods")]
    signin_ids = []
    for e in api(base, observer, "/admin/v1/signins?limit=20")["items"]:
        full = api(base, observer, f"/admin/v1/signins/{e['correlation_id']}")
        signin_ids += [full["correlation_id"], *full["request_ids"][:1]]
    if len(method_ids) < 3 or len(signin_ids) < 6:
        sys.exit(f"seed: too little to aim at: {len(method_ids)} methods, {len(signin_ids)} sign-in ids")
    fixtures = {
        "user": user_ids,
        "user_without_methods": without_methods,
        "method": method_ids,
        "client": clients,
        "signin": signin_ids,
        "token": tokens,
    }
    with open(out, "w") as f:
        json.dump(fixtures, f, indent=2)
    print(
        f"seed: {len(users)} users, {len(method_ids)} methods, {len(clients)} applications, "
        f"{len(signin_ids)} sign-in ids, {len(tokens)} tokens to aim at"
    )


if __name__ == "__main__":
    main()
