"""The node's web console and peer API (FastAPI): operators log in; peer nodes send signed messages.

Nothing but the login page and ``/healthz`` (which names the party) is served without a session, and
every state-changing form carries the session's CSRF token. The console shows this party's datasets,
policies, jobs, runs, reports, plots, audit log and privacy ledgers, and peers' signed decisions; it
never reads another party's data. The peer API (``/peer/...``) accepts only messages signed by a
party of the cluster (:mod:`accord.node.peers`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from accord.errors import AccordError, ProtocolAbort
from accord.node import auth, ledgers
from accord.node import datasets as ds
from accord.node.policy import DESCRIPTIONS, parse_policy
from accord.node.runs import Runner
from accord.node.service import DecisionConflict, Node

COOKIE = "accord_session"
LOGIN_COOKIE = "accord_login"
_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
                                       "frame-ancestors 'none'; form-action 'self'",
            "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


class HTTPProblem(Exception):
    """An error page with a status code."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def create_app(node: Node, runner: Runner) -> FastAPI:
    """The console and peer API of ``node``."""
    app = FastAPI(title=f"accord node {node.party}", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    templates.env.globals.update(party=node.party, describe=DESCRIPTIONS, fmt_time=_fmt_time)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(_HEADERS)
        return response

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, exc: HTTPProblem) -> Response:
        if exc.status == 303:
            return RedirectResponse(exc.headers["Location"], status_code=303)
        if request.url.path.startswith("/peer/"):
            return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)
        return templates.TemplateResponse(request, "error.html", {"message": exc.message, "user": None},
                                          status_code=exc.status, headers=exc.headers)

    def session(request: Request) -> auth.Session:
        with node.store.read() as conn:
            found = auth.find_session(conn, request.cookies.get(COOKIE))
        if found is None:
            raise HTTPProblem(303, "log in first", {"Location": "/login"})
        return found

    async def form_session(request: Request) -> tuple[auth.Session, Any]:
        current = session(request)
        form = await request.form()
        if not auth.check_csrf(current, str(form.get("csrf") or request.headers.get("X-CSRF-Token") or "")):
            raise HTTPProblem(403, "missing or wrong CSRF token: reload the page and try again")
        return current, form

    def page(request: Request, name: str, user: auth.Session, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, {"user": user, **context})

    def attempt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DecisionConflict as exc:
            raise HTTPProblem(409, str(exc)) from None
        except AccordError as exc:
            raise HTTPProblem(400, str(exc)) from None

    # ------------------------------------------------------------------------------ login
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"party": node.party, "ok": True}

    @app.get("/login")
    def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = templates.TemplateResponse(request, "login.html", {"user": None, "csrf": token, "error": None})
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, secure=True, samesite="strict")
        return response

    @app.post("/login")
    def login(request: Request, user: str = Form(...), password: str = Form(...), csrf: str = Form("")) -> Response:
        if not csrf or not secrets.compare_digest(csrf, request.cookies.get(LOGIN_COOKIE, "")):
            raise HTTPProblem(403, "missing or wrong CSRF token: reload the login page")
        address = request.client.host if request.client else "?"
        try:
            with node.store.write() as conn:
                token, _ = auth.login(conn, user, password, address)
                node.store.audit(conn, "login", user=user, address=address)
        except auth.LoginRefused as exc:
            with node.store.write() as conn:
                if exc.retry_after is None:
                    auth.record_failure(conn, user, address)
                node.store.audit(conn, "login refused", user=user[:64], address=address, reason=str(exc))
            status = 429 if exc.retry_after else 401
            headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else {}
            raise HTTPProblem(status, str(exc), headers) from None
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict", max_age=auth.SESSION_SECONDS)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        current, _ = await form_session(request)
        with node.store.write() as conn:
            auth.logout(conn, current)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ------------------------------------------------------------------------------ pages
    @app.get("/")
    def home(request: Request) -> Response:
        user = session(request)
        jobs = node.jobs()
        decided = {j.digest: node.decisions(j.digest) for j in jobs}
        pending = [j for j in jobs if node.party not in decided[j.digest]]
        return page(request, "home.html", user, pending=pending, jobs=jobs, decided=decided, runs=runner.runs()[:20])

    @app.get("/datasets")
    def datasets_page(request: Request) -> Response:
        user = session(request)
        with node.store.read() as conn:
            found = ds.all_datasets(conn)
        return page(request, "datasets.html", user, datasets=found)

    @app.get("/datasets/{name}")
    def dataset_page(request: Request, name: str) -> Response:
        user = session(request)
        with node.store.read() as conn:
            dataset = attempt(lambda: ds.get(conn, name))
        policy_text = yaml.safe_dump(dataset.policy.to_dict(), sort_keys=False)
        return page(request, "dataset.html", user, dataset=dataset, policy_text=policy_text,
                    ledger=ledgers.ledger_summary(node.config.state, name))

    @app.post("/datasets/{name}/policy")
    async def set_policy(request: Request, name: str) -> Response:
        user, form = await form_session(request)

        def change() -> None:
            try:
                raw = yaml.safe_load(str(form.get("policy", "")))
            except yaml.YAMLError as exc:
                raise HTTPProblem(400, f"the policy is not valid YAML: {exc}") from None
            policy = parse_policy(raw, f"policy of dataset {name}")
            with node.store.write() as conn:
                ds.set_policy(conn, name, policy)
                node.store.audit(conn, "policy change", dataset=name, actor=user.user, policy=policy.to_dict())

        attempt(change)
        return RedirectResponse(f"/datasets/{name}", status_code=303)

    @app.get("/jobs/new")
    def new_job(request: Request) -> Response:
        return page(request, "new_job.html", session(request))

    @app.post("/jobs")
    async def propose(request: Request) -> Response:
        user, form = await form_session(request)
        text = str(form.get("text", ""))
        job = await run_in_threadpool(attempt, lambda: node.propose(text, user.user))
        failures = await run_in_threadpool(node.tell_peers, "proposal", {"text": text}, job.parties)
        return RedirectResponse(f"/jobs/{job.digest}" + _notice(failures), status_code=303)

    @app.get("/jobs/{digest}")
    def job_page(request: Request, digest: str, failed: str = "") -> Response:
        user = session(request)
        job = attempt(lambda: node.recheck(digest))  # the policies in force now
        if job is None:
            raise HTTPProblem(404, "no such job at this node")
        decisions = node.decisions(digest)
        ready = all(d.get("valid") for d in decisions.values()) and set(decisions) == set(job.parties)
        return page(request, "job.html", user, job=job, decisions=decisions, runs=runner.runs(digest), ready=ready,
                    failed=failed)

    @app.post("/jobs/{digest}/decide")
    async def decide(request: Request, digest: str) -> Response:
        user, form = await form_session(request)
        approve = form.get("decision") == "approve"
        reason = str(form.get("reason", ""))[:2000]
        decision = await run_in_threadpool(attempt, lambda: node.decide(digest, user.user, approve, reason))
        job = node.job(digest)
        failures = await run_in_threadpool(node.tell_peers, "decision", decision, job.parties if job else [])
        return RedirectResponse(f"/jobs/{digest}" + _notice(failures), status_code=303)

    @app.post("/jobs/{digest}/run")
    async def run(request: Request, digest: str) -> Response:
        user, _ = await form_session(request)
        run_id = await run_in_threadpool(attempt, lambda: runner.start(digest, user.user))
        job = node.job(digest)
        failures = await run_in_threadpool(node.tell_peers, "start", {"digest": digest, "run": run_id},
                                           job.parties if job else [])
        return RedirectResponse(f"/runs/{run_id}" + _notice(failures), status_code=303)

    @app.get("/runs/{run_id}")
    def run_page(request: Request, run_id: str, failed: str = "") -> Response:
        user = session(request)
        found = [r for r in runner.runs() if r["id"] == run_id]
        if not found:
            raise HTTPProblem(404, "no such run at this node")
        return page(request, "run.html", user, run=found[0], job=node.job(found[0]["digest"]),
                    plots=[p.name for p in runner.plots(run_id)], failed=failed)

    @app.get("/runs/{run_id}/plots/{name}")
    def plot(request: Request, run_id: str, name: str) -> Response:
        session(request)
        for path in runner.plots(run_id):
            if path.name == name:
                return FileResponse(path, media_type="image/png")
        raise HTTPProblem(404, "no such plot")

    @app.get("/audit")
    def audit_page(request: Request) -> Response:
        user = session(request)
        try:
            count, problem_text = node.store.verify_new_audit(), None
        except AccordError as exc:
            count, problem_text = 0, str(exc)
        return page(request, "audit.html", user, entries=node.store.audit_entries(limit=300)[::-1], count=count,
                    problem=problem_text)

    @app.get("/ledgers")
    def ledgers_page(request: Request) -> Response:
        user = session(request)
        with node.store.read() as conn:
            names = [d.name for d in ds.all_datasets(conn)]
        return page(request, "ledgers.html", user,
                    ledgers=[(n, ledgers.ledger_summary(node.config.state, n)) for n in names])

    # ------------------------------------------------------------------------------ peers
    async def peer_message(request: Request, kind: str) -> tuple[str, dict[str, Any]]:
        try:
            raw = json.loads(await request.body())
        except ValueError:
            raise HTTPProblem(400, "the body is not JSON") from None
        try:
            return await run_in_threadpool(node.accept_message, raw, kind)
        except ProtocolAbort as exc:
            raise HTTPProblem(403, str(exc)) from None

    @app.post("/peer/proposal")
    async def peer_proposal(request: Request) -> dict[str, str]:
        sender, body = await peer_message(request, "proposal")
        job = await run_in_threadpool(attempt, lambda: node.propose(str(body.get("text", "")), f"node of {sender}",
                                                                    proposer=sender))
        return {"digest": job.digest}

    @app.post("/peer/decision")
    async def peer_decision(request: Request) -> dict[str, str]:
        sender, body = await peer_message(request, "decision")
        await run_in_threadpool(attempt, lambda: node.record_peer_decision(sender, body))
        return {"ok": "recorded"}

    @app.post("/peer/start")
    async def peer_start(request: Request) -> dict[str, str]:
        sender, body = await peer_message(request, "start")
        run_id = await run_in_threadpool(attempt, lambda: runner.start(str(body.get("digest", "")),
                                                                       f"started by {sender}", str(body.get("run"))))
        return {"run": run_id}

    return app


def _notice(failures: dict[str, str]) -> str:
    from urllib.parse import quote

    return "?failed=" + quote("; ".join(f"{p}: {why}" for p, why in failures.items())) if failures else ""


def _fmt_time(value: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value)) if value else ""
