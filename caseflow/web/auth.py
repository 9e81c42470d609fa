"""Console sign-in and sign-out."""
from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from caseflow.extensions import db
from caseflow.services.people import authenticate, normalise_username

from . import throttle
from .guards import current_person, landing_endpoint, safe_next
from .i18n import t

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    """Username and password; FlaskForm adds the CSRF token."""

    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])


def client_address() -> str:
    """The caller's address as the WSGI server saw it (put ProxyFix in front behind a proxy)."""
    return request.remote_addr or "unknown"


def _clear_session() -> None:
    """Empty the session, and forget the CSRF token cached for it (it belonged to the old session)."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the form; on POST check the password, start a fresh session, go to the role's page."""
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if request.method == "GET":
        person = current_person()
        if person is not None:
            return redirect(next_url or url_for(landing_endpoint(person.roles)))
        return render_template("login.html", form=form, error=None, next_url=next_url)

    if not form.validate_on_submit():
        return render_template("login.html", form=form, error=t("login.failed"), next_url=next_url), 400

    username = normalise_username(form.username.data or "")
    address = client_address()
    wait = throttle.blocked_for(username, address)
    if wait:
        log.warning("sign-in of %s from %s refused: too many failures", username, address)
        body = render_template("login.html", form=form, next_url=next_url,
                               error=t("login.throttled", minutes=max(1, math.ceil(wait / 60))))
        return body, 429, {"Retry-After": str(wait)}

    person = authenticate(db.session(), username, form.password.data or "")
    if person is None:
        throttle.record_failure(username, address)
        log.info("failed sign-in for %s from %s", username, address)
        return render_template("login.html", form=form, error=t("login.failed"), next_url=next_url), 401

    throttle.clear(username, address)
    lang = session.get("lang") or person.locale
    # A new session on sign-in: nothing from before (a planted session) carries over.
    _clear_session()
    session["person_id"] = person.id
    session["lang"] = lang
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
    log.info("%s signed in from %s", person.username, address)
    return redirect(next_url or url_for(landing_endpoint(person.roles)))


@bp.post("/logout")
def logout() -> Any:
    """End the session (POST only, with the CSRF token, so a link elsewhere cannot sign you out)."""
    lang = session.get("lang")
    _clear_session()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login", signed_out=1))

