"""Who is asking: sign-in and sign-out, the signed-in user on every request, and the rules of access
(readers read, editors change; reading may itself need sign-in)."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from archive.accounts import User

from .extension import get_archive
from .search_state import SearchState
from .security import csrf

bp = Blueprint("auth", __name__)

THROTTLE_WINDOW = 15 * 60  # seconds over which failed sign-ins are counted
# Pages anyone may open even when reading needs sign-in.
OPEN_ENDPOINTS = {"auth.signin", "auth.signout", "static", "health.healthz"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}


class SigninThrottle:
    """Failed sign-ins per (name, address) in a sliding window; past the limit, tries are refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[float]] = {}

    def blocked(self, key: tuple[str, str], limit: int) -> bool:
        with self._lock:
            return len(self._recent(key)) >= limit

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(time.monotonic())

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        horizon = time.monotonic() - THROTTLE_WINDOW
        recent = [t for t in self._failures.get(key, []) if t > horizon]
        self._failures[key] = recent
        return recent


def current_user() -> User | None:
    return g.get("user")


def load_user() -> None:
    """Before each request: the signed-in user (None when signed out, or when the account is gone)."""
    if request.endpoint == "static":
        return
    name = session.get("user")
    user = get_archive().accounts.get_user(name) if name else None
    if name and user is None:
        session.clear()
    g.user = user


def require_reader_signin():
    """Before each request: when reading needs sign-in, send the signed-out to the sign-in page."""
    if not reading_needs_signin() or current_user() is not None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.blueprint in {"api", "exports"}:  # machines get a status, not a sign-in page
        if request.endpoint == "api.create_article":  # bearer tokens are checked by the view
            return None
        abort(401)
    return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))


def reading_needs_signin() -> bool:
    setting = str(get_archive().config.read_requires_signin).strip().lower()
    if setting in TRUE_WORDS:
        return True
    if setting in FALSE_WORDS:
        return False
    return not is_loopback(current_app.config.get("SERVED_ON", "127.0.0.1"))


def is_loopback(host: str) -> bool:
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def editor_required(view: Callable) -> Callable:
    """Editors only: the signed-out are sent to sign in, readers get a 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None:
            if request.method == "GET":
                return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
            abort(401)
        if not user.is_editor:
            abort(403)
        if request.method not in SAFE_METHODS:
            csrf.protect()
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in; anything pointing elsewhere (an open redirect) becomes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("search.results")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("search.results")
    return target


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url)
        return render_template("signin.html", next_url=next_url, state=SearchState())
    csrf.protect()
    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")
    key = (name.lower(), request.remote_addr or "")
    throttle: SigninThrottle = current_app.extensions["signin_throttle"]
    limit = get_archive().config.signin_attempts
    if throttle.blocked(key, limit):
        error = "Too many failed sign-ins for this account from here; wait 15 minutes and try again."
        return render_template("signin.html", next_url=next_url, error=error, name=name, state=SearchState()), 429
    user = get_archive().accounts.authenticate(name, password) if name and password else None
    if user is None:
        throttle.failed(key)
        error = "The name or password is wrong."
        return render_template("signin.html", next_url=next_url, error=error, name=name, state=SearchState()), 401
    throttle.succeeded(key)
    session.clear()  # a fresh session on sign-in: no fixation
    session["user"] = user.name
    return redirect(next_url)


@bp.post("/signout")
def signout():
    csrf.protect()
    session.clear()
    return redirect(url_for("search.results"))


def init_app(app) -> None:
    app.extensions["signin_throttle"] = SigninThrottle()
    app.before_request(load_user)
    app.before_request(require_reader_signin)

    @app.context_processor
    def user_in_templates():
        return {"current_user": current_user()}
