"""The console's guards: login required, argon2 passwords, rate-limited login, CSRF on every change."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from accord.node.runs import Runner
from accord.node.web import create_app
from tests.node_setup import PASSWORD, job_text


@pytest.fixture
def client(nodes):
    node = nodes["bank"]
    with TestClient(create_app(node, Runner(node)), base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _login(client, user="bank-op", password=PASSWORD, csrf=True):
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"user": user, "password": password, **({"csrf": token} if csrf else {})})


def _csrf(client, path="/jobs/new"):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.mark.parametrize("path", ["/", "/datasets", "/datasets/bank", "/jobs/new", "/jobs/abc", "/audit", "/ledgers",
                                  "/runs/abc", "/runs/abc/plots/x.png"])
def test_nothing_is_visible_without_login(client, path):
    answer = client.get(path)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "LIMIT_BAL" not in answer.text and "PAY_0" not in answer.text


def test_passwords_are_stored_as_memory_hard_argon2id_hashes(nodes):
    from argon2 import PasswordHasher, extract_parameters

    from accord.node import auth, schema

    with nodes["bank"].store.read() as conn:
        stored = conn.execute(schema.users.select()).mappings().first()["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    production = extract_parameters(PasswordHasher().hash("x"))  # what auth uses outside tests
    assert production.memory_cost >= 64 * 1024 and production.type.name == "ID"
    assert auth.MAX_FAILURES == 5


def test_login_sets_a_strict_secure_session_cookie_and_logout_ends_it(client):
    answer = _login(client)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert client.get("/datasets").status_code == 200
    assert "PAY_0" in client.get("/datasets/bank").text
    assert client.post("/logout", data={"csrf": _csrf(client)}).status_code == 303
    assert client.get("/datasets").status_code == 303


def test_wrong_passwords_are_rate_limited_even_for_the_right_one(client, nodes):
    assert _login(client, password="wrong password").status_code == 401
    assert _login(client, user="nobody").status_code == 401
    for _ in range(3):
        assert _login(client, password="still wrong").status_code == 401
    limited = _login(client)  # the right password, after five failures from this address
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "too many failed logins" in limited.text
    events = [e["event"] for e in nodes["bank"].store.verify_audit()]
    assert events.count("login refused") == 6


def test_state_changes_need_the_sessions_csrf_token(client, nodes):
    assert _login(client, csrf=False).status_code == 403  # the login form too
    _login(client)
    text = job_text(features=True)
    assert client.post("/jobs", data={"text": text}).status_code == 403
    assert client.post("/jobs", data={"text": text, "csrf": "forged" * 8}).status_code == 403
    assert nodes["bank"].jobs() == []
    other = TestClient(client.app, base_url="https://testserver")
    _login(other)  # another session's token does not fit this session
    assert client.post("/jobs", data={"text": text, "csrf": _csrf(other)}).status_code == 403
    answer = client.post("/jobs", data={"text": text, "csrf": _csrf(client)})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/")
    assert len(nodes["bank"].jobs()) == 1


def test_peer_api_refuses_unsigned_messages(client):
    answer = client.post("/peer/proposal", json={"kind": "proposal", "from": "partner", "at": 0, "nonce": "n",
                                                 "body": {"text": "x"}, "sig": "AAAA"})
    assert answer.status_code == 403 and "not signed by its key" in answer.json()["detail"]


@pytest.mark.parametrize("run", ["%2E%2E", "..", "unknown"])
def test_plots_are_served_only_from_a_known_runs_outputs(client, nodes, run):
    stray = nodes["bank"].config.state / "out" / "x.png"  # a PNG outside any run's outputs
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"\x89PNG\r\n\x1a\n")
    _login(client)
    answer = client.get(f"/runs/{run}/plots/x.png")
    assert answer.status_code == 404 and not answer.content.startswith(b"\x89PNG")
