"""Error pages: a friendly page with the search form, or JSON {"error": ...} under /api/."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .search_state import SearchState

# What a reader sees for each status.
MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign-in needed", "Sign in to do this."),
    403: ("Not allowed", "Your account may read the archive but not change it; ask an editor."),
    404: ("Page not found", "There is nothing at this address. Try a search instead."),
    405: ("Method not allowed", "This address does not answer this kind of request."),
    413: ("Request too large", "The request was larger than this archive accepts; send smaller or fewer files."),
    429: ("Too many requests", "Too many tries in a short time; wait a while and try again."),
    500: ("Something went wrong", "The archive could not answer this request. Please try again later."),
}


def handle_http_error(error: HTTPException):
    """Flask has already logged an unhandled exception by the time its 500 arrives here."""
    code = error.code or 500
    title, message = MESSAGES.get(code, (error.name, error.description or ""))
    if request.path.startswith("/api/"):
        response = jsonify(error=message)
    else:
        state = SearchState()
        response = make_response(render_template("error.html", code=code, title=title, message=message, state=state))
    response.status_code = code
    for name, value in error.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_csrf_error(error: CSRFError):
    """A form without a valid CSRF token: nothing was changed."""
    message = (
        "The form had expired or did not come from this site, so nothing was changed. Reload the page and try again."
    )
    if request.path.startswith("/api/"):
        return jsonify(error=message), 400
    page = render_template("error.html", code=400, title="Form expired", message=message, state=SearchState())
    return page, 400


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
