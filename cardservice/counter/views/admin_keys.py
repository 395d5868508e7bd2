"""Administration of signing keys (list, revoke, rotate) and API tokens."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...services import cards as card_service
from ...services import deps, utcnow
from ...services import keys as key_service
from ...services import tokens as token_service
from ..blueprint import bp
from ..form_base import ActionForm
from ..roles import requires
from ..staff_forms import KeyRevokeForm
from .base import RowForms, attempt, required_text, staff_actor

# One revocation form per key row (the typed key id confirms which key).
_REVOKE_FORMS = RowForms[str, KeyRevokeForm](KeyRevokeForm, "key")


@bp.route("/admin/keys", methods=["GET"])
@requires("admin")
def admin_keys() -> Any:
    return _render_admin_keys()


def _render_admin_keys(
    failed: tuple[str, KeyRevokeForm] | None = None, status: int = 200
) -> tuple[str, int]:
    keys = key_service.list_keys(db.session)
    now = utcnow()
    return render_template(
        "counter/admin_keys.html",
        keys=keys,
        **_REVOKE_FORMS.context("revoke_forms", (key.kid for key in keys), failed),
        root_fingerprint=key_service.root_fingerprint(db.session),
        # What each revoked key leaves to reprint (the same list `keys revoke` prints).
        reissue={
            key.kid: card_service.cards_to_reissue(db.session, key.kid, now=now)
            for key in keys
            if key.state == "revoked"
        },
        action_form=ActionForm(formdata=None),
    ), status


@bp.route("/admin/keys/<kid>/revoke", methods=["POST"])
@requires("admin")
def admin_keys_revoke(kid: str) -> Any:
    kid = kid[:40]
    form = _REVOKE_FORMS.submitted(kid)
    typed = key_service.normalise_kid(required_text(form.kid.data)) if form.validate() else None
    if typed is not None and typed != key_service.normalise_kid(kid):
        form.kid.errors = [_("The key id you typed is not this key's id.")]
    if form.errors:
        if not any(key.kid == kid for key in key_service.list_keys(db.session)):
            abort(404)
        return _render_admin_keys((kid, form), 422)
    revoked = attempt(
        lambda: key_service.revoke_signing_key(
            db.session, deps(), kid=kid, now=utcnow(), actor=staff_actor()
        )
    )
    if revoked is not None:
        flash(
            _(
                "Key %(kid)s is revoked: cards it signed fail verification until reprinted.",
                kid=kid,
            ),
            "success",
        )
    return redirect(url_for("counter.admin_keys"))


@bp.route("/admin/keys/rotate", methods=["POST"])
@requires("admin")
def admin_keys_rotate() -> Any:
    info = key_service.rotate_signing_key(db.session, deps(), now=utcnow(), actor=staff_actor())
    flash(_("A new signing key %(kid)s is active.", kid=info.kid), "success")
    return redirect(url_for("counter.admin_keys"))


@bp.route("/admin/tokens", methods=["GET"])
@requires("admin")
def admin_tokens() -> Any:
    return render_template(
        "counter/admin_tokens.html",
        tokens=token_service.list_tokens(db.session),
        action_form=ActionForm(formdata=None),
        now=utcnow(),
    )


@bp.route("/admin/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@requires("admin")
def admin_tokens_revoke(token_id: int) -> Any:
    # The global CSRFProtect has already checked this POST's token. An unknown or already
    # revoked token is a NotFoundError: the 404 page.
    token_service.revoke_token_id(db.session, token_id=token_id, now=utcnow(), actor=staff_actor())
    flash(_("The API token is revoked: it is refused from now on."), "success")
    return redirect(url_for("counter.admin_tokens"))
