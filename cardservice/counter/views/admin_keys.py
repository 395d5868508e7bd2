"""Administration of signing keys (list, revoke, rotate) and API tokens."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...services import ServiceError, deps, utcnow
from ...services import keys as key_service
from ...services import staff as staff_service
from ...services.errors import NotFoundError
from ..blueprint import bp
from ..forms import ActionForm, KeyRevokeForm
from ..roles import requires
from .base import required_text, service_refused, staff_actor


@bp.route("/admin/keys", methods=["GET"])
@requires("admin")
def admin_keys() -> Any:
    return _render_admin_keys()


def _render_admin_keys(
    failed: tuple[str, KeyRevokeForm] | None = None, status: int = 200
) -> tuple[str, int]:
    keys = key_service.list_keys(db.session)
    revoke_forms = {
        key.kid: (
            failed[1]
            if failed and failed[0] == key.kid
            else KeyRevokeForm(formdata=None, prefix=f"key{key.kid}")
        )
        for key in keys
    }
    return render_template(
        "counter/admin_keys.html",
        keys=keys,
        revoke_forms=revoke_forms,
        failed_forms=[failed[1]] if failed else [],
        open_key=failed[0] if failed else None,
        root_fingerprint=key_service.root_fingerprint(db.session),
        action_form=ActionForm(formdata=None),
    ), status


@bp.route("/admin/keys/<kid>/revoke", methods=["POST"])
@requires("admin")
def admin_keys_revoke(kid: str) -> Any:
    kid = kid[:40]
    form = KeyRevokeForm(prefix=f"key{kid}")
    if form.validate() and required_text(form.kid.data).replace(" ", "").lower() != kid.lower():
        form.kid.errors = [_("The key id you typed is not this key's id.")]
    if form.errors:
        if not any(key.kid == kid for key in key_service.list_keys(db.session)):
            abort(404)
        return _render_admin_keys((kid, form), 422)
    try:
        key_service.revoke_signing_key(
            db.session, deps(), kid=kid, now=utcnow(), actor=staff_actor()
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
    else:
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
        tokens=staff_service.list_tokens(db.session),
        action_form=ActionForm(formdata=None),
    )


@bp.route("/admin/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@requires("admin")
def admin_tokens_revoke(token_id: int) -> Any:
    # The global CSRFProtect has already checked this POST's token. An unknown or already
    # revoked token is a NotFoundError: the 404 page.
    staff_service.revoke_token_id(db.session, token_id=token_id, now=utcnow(), actor=staff_actor())
    flash(_("The API token is revoked: it is refused from now on."), "success")
    return redirect(url_for("counter.admin_tokens"))
