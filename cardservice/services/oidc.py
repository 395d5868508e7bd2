"""Single sign-on with the city's OpenID Connect provider: who the claims say the member is.

The protocol (authorization code with PKCE, state, nonce, the ID token's signature) is Authlib's,
in counter/views/sso.py. This module holds what the ID token is checked against
(``id_token_checks``) and the rules applied to the verified claims, once:

**Authorization response**: its ``iss`` (RFC 9207) is the configured issuer.

**ID token** (OpenID Connect Core 3.1.3.7): Authlib verifies the signature with the provider's
published keys and only the algorithms its metadata advertises less ``none`` and HMAC
(``id_token_algorithms``: never an unsigned token, never one keyed with the client
secret: the key set holds public keys only), the nonce of the session's own request, ``azp``
when there are several audiences, ``at_hash``. It checks the audience only through ``azp``, and
gives 120 s of leeway on ``exp``: here ``aud`` must name this client and ``iss`` the configured
issuer, all of ``iss sub aud exp iat`` must be there, and the leeway is
CARDSERVICE_OIDC_CLOCK_SKEW_SECONDS.

**Role**: from the claim named by CARDSERVICE_OIDC_ROLE_CLAIM (a string or a list of strings),
through CARDSERVICE_OIDC_ROLE_MAP (claim value -> role). Several matches: the highest role. None:
the sign-in is refused. The role is set again at every sign-in: the provider is its source.

**Matching and provisioning** (docs/operations.md, "Single sign-on"):

1. a staff account linked to this (issuer, subject) is the member, whatever their name now;
2. otherwise, with CARDSERVICE_OIDC_LINK_EXISTING on, an account whose user name equals the
   username claim and that has no link to this provider yet is linked (migrating local accounts;
   off by default, since it trusts the provider's user names);
3. otherwise, with CARDSERVICE_OIDC_PROVISION on (the default), a new account is created with
   that user name, an unusable password and the role;
4. otherwise the sign-in is refused.

A deactivated account stays refused whatever the provider says.

**Second factor**: when the ID token's ``acr`` is one of CARDSERVICE_OIDC_MFA_ACR, or its ``amr``
holds one of CARDSERVICE_OIDC_MFA_AMR, the provider's multi-factor sign-in counts as this
service's (``mfa_at`` = the token's ``auth_time``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oidc.core import CodeIDToken
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..models import StaffIdentity, StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import AuthenticationError
from .locking import locked

ROLE_RANK = {"clerk": 1, "supervisor": 2, "admin": 3}
# Local accounts' user names plus "@": Entra ID's and many directories' user names are
# addresses (user@city.example), unique in the directory.
_USERNAME = re.compile(r"[A-Za-z0-9._@+-]{2,64}")
#: Not an argon2 hash: no password ever verifies against it (services/staff.authenticate).
NO_PASSWORD = "!sso"


def signs_in_at_the_provider(user: StaffUser) -> bool:
    """An account single sign-on made: it has no password here, its proofs are the provider's."""
    return str(user.password_hash) == NO_PASSWORD


@dataclass(frozen=True)
class OidcRules:
    issuer: str
    client_id: str
    clock_skew: int  # seconds of leeway on the ID token's exp, iat and nbf
    role_claim: str
    role_map: Mapping[str, str]
    username_claim: str
    provision: bool
    link_existing: bool
    mfa_acr: tuple[str, ...]
    mfa_amr: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OidcRules:
        return cls(
            issuer=config["OIDC_ISSUER"],
            client_id=config["OIDC_CLIENT_ID"],
            clock_skew=int(config["OIDC_CLOCK_SKEW_SECONDS"]),
            role_claim=config["OIDC_ROLE_CLAIM"],
            role_map=config["OIDC_ROLE_MAP"],
            username_claim=config["OIDC_USERNAME_CLAIM"],
            provision=bool(config["OIDC_PROVISION"]),
            link_existing=bool(config["OIDC_LINK_EXISTING"]),
            mfa_acr=tuple(config["OIDC_MFA_ACR"]),
            mfa_amr=tuple(config["OIDC_MFA_AMR"]),
        )


@dataclass(frozen=True)
class SsoResult:
    user_id: int
    role: str
    amr: tuple[str, ...]
    mfa_at: int | None  # UTC epoch seconds of the provider's multi-factor sign-in


class SsoRefusedError(AuthenticationError):
    code = "sso_refused"
    status = 403


def id_token_checks(rules: OidcRules, clock: Callable[[], datetime]) -> dict[str, Any]:
    """The keyword arguments of Authlib's ``authorize_access_token`` that check the ID token as
    the module's docstring says, on ``clock`` (the app's)."""

    class IdToken(CodeIDToken):
        def validate(self, now: int | Callable[[], int] | None = None, leeway: int = 0) -> None:
            # A clock, not a moment: read when the token has arrived, after the code exchange.
            super().validate(now=lambda: epoch(clock()), leeway=leeway)

    return {
        "claims_cls": IdToken,
        "claims_options": {
            "iss": {"essential": True, "value": rules.issuer},
            "aud": {"essential": True, "value": rules.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        },
        "leeway": rules.clock_skew,
    }


def id_token_algorithms(advertised: Any) -> list[str]:
    """The ID token signature algorithms to accept: those the provider's metadata advertises,
    less ``none`` and the HMAC ones (keyed with the client secret, which the key set never holds
    and which is no proof of the provider). LemonLDAP::NG advertises both next to RS256; Authlib
    would take the metadata's list as it is, and an unsigned token with it. Nothing left (or no
    list): RS256, OpenID Connect's default."""
    names = [name for name in _values(advertised) if name != "none" and not name.startswith("HS")]
    return names or ["RS256"]


#: The error codes an authorization response may carry (RFC 6749 section 4.1.2.1, OpenID
#: Connect Core section 3.1.2.6).
PROVIDER_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    }
)


def provider_error(raw: str) -> str:
    """What a log line may say of an authorization response's ``error``: anyone can call the
    callback with any text there (a name, a card number, a forged log line), so only a
    registered code is kept."""
    return raw if raw in PROVIDER_ERRORS else "(not a registered error code)"


def response_issuer_ok(rules: OidcRules, metadata: Mapping[str, Any], iss: str | None) -> bool:
    """RFC 9207: the authorization response's ``iss`` must be the configured issuer, and be
    there when the provider's metadata says it sends it. A response made by another provider (a
    mix-up) is refused before its code is sent anywhere."""
    if iss is None:
        return not metadata.get("authorization_response_iss_parameter_supported")
    return iss == rules.issuer


def _values(claim: Any) -> list[str]:
    if isinstance(claim, str):
        return [claim]
    if isinstance(claim, Iterable) and not isinstance(claim, bytes | Mapping):
        return [item for item in claim if isinstance(item, str)]
    return []


def role_from_claims(rules: OidcRules, claims: Mapping[str, Any]) -> str | None:
    values = _values(claims.get(rules.role_claim))
    roles = [rules.role_map[value] for value in values if rules.role_map.get(value) in ROLE_RANK]
    return max(roles, key=ROLE_RANK.__getitem__) if roles else None


def second_factor(
    rules: OidcRules, id_token: Mapping[str, Any], *, now: datetime
) -> tuple[tuple[str, ...], int | None]:
    """The token's methods (amr) and, when they amount to MFA, when it happened."""
    amr = tuple(_values(id_token.get("amr")))[:10]
    acr = id_token.get("acr")
    mfa = (isinstance(acr, str) and acr in rules.mfa_acr) or any(m in rules.mfa_amr for m in amr)
    if not mfa:
        return amr or ("ext",), None
    auth_time = id_token.get("auth_time")
    moment = int(now.timestamp())
    if isinstance(auth_time, int) and not isinstance(auth_time, bool) and auth_time <= moment:
        moment = auth_time
    return amr or ("mfa",), moment


def sign_in(
    session: DbSession,
    rules: OidcRules,
    *,
    id_token: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    now: datetime,
) -> SsoResult:
    """The staff member the verified claims name (matched, linked or created), or
    SsoRefusedError with a message for the member. Commits."""
    subject = id_token.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SsoRefusedError(_l("The identity provider did not say who you are."))
    if userinfo.get("sub", subject) != subject:
        # OpenID Connect Core 5.3.2: user info for another subject must not be used.
        raise SsoRefusedError(_l("The identity provider's answers do not agree."))
    # The ID token's claims first, the user info endpoint's (often the only place for roles and
    # names, as with a code flow's conforming ID token) over them; same subject checked above.
    claims = {**id_token, **userinfo}
    role = role_from_claims(rules, claims)
    if role is None:
        raise SsoRefusedError(
            _l("Your account at the identity provider gives you no role in this service.")
        )
    identity = session.scalars(
        select(StaffIdentity).where(
            StaffIdentity.issuer == rules.issuer, StaffIdentity.subject == subject
        )
    ).first()
    created = False
    if identity is not None:
        user = locked(session, StaffUser, identity.staff_id)
    else:
        user, created = _first_sign_in(session, rules, claims, role, now)
        identity = StaffIdentity(
            staff_id=user.id, issuer=rules.issuer, subject=subject, created_at=now
        )
        session.add(identity)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise SsoRefusedError(_l("Sign-in in progress elsewhere; try again.")) from None
    if user is None or not user.active:
        session.rollback()
        raise SsoRefusedError(_l("Your account here is deactivated."))
    user.role = role
    user.last_login_at = now
    identity.last_login_at = now
    amr, mfa_at = second_factor(rules, id_token, now=now)
    audit.record(
        session,
        now=now,
        actor=Actor.staff(user.id),
        action="user.sso_create" if created else "user.sso_login",
        detail=role,
    )
    session.commit()
    return SsoResult(user_id=user.id, role=role, amr=amr, mfa_at=mfa_at)


def _first_sign_in(
    session: DbSession, rules: OidcRules, claims: Mapping[str, Any], role: str, now: datetime
) -> tuple[StaffUser, bool]:
    username = claims.get(rules.username_claim)
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise SsoRefusedError(
            _l("The identity provider gave no usable user name (2 to 64 letters or digits).")
        )
    existing = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if existing is not None:
        linked = session.scalar(
            select(StaffIdentity.id).where(
                StaffIdentity.staff_id == existing.id, StaffIdentity.issuer == rules.issuer
            )
        )
        if not rules.link_existing or linked is not None:
            raise SsoRefusedError(
                _l("A local account already has your user name: ask an administrator.")
            )
        return existing, False
    if not rules.provision:
        raise SsoRefusedError(_l("You have no account here yet: ask an administrator."))
    user = StaffUser(
        username=username,
        password_hash=NO_PASSWORD,
        role=role,
        active=True,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise SsoRefusedError(_l("Sign-in in progress elsewhere; try again.")) from None
    return user, True


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
