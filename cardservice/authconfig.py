"""Settings of staff authentication: session timeouts, OpenID Connect single sign-on, API tokens.

Read by config.load_config() from the environment (docs/operations.md, "Staff sign-in"). Like
the rest of the configuration, a setting that would weaken production stops the start with a
message naming the variable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .models import ROLES

PREFIX = "CARDSERVICE_"
DEFAULT_ROLE_MAP = "admin=admin,supervisor=supervisor,clerk=clerk"


class _Error(RuntimeError):
    pass


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None or not raw.strip():
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise _Error(f"{PREFIX}{name}: expected true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    try:
        value = default if raw is None or not raw.strip() else int(raw)
    except ValueError:
        raise _Error(f"{PREFIX}{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise _Error(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
    return value


def _list(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    raw = env.get(PREFIX + name)
    text = default if raw is None else raw
    return tuple(item.strip() for item in text.replace(" ", ",").split(",") if item.strip())


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _role_map(raw: str) -> dict[str, str]:
    """ "group-a=admin,group-b=clerk": claim value -> role."""
    mapping: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        value, sep, role = item.rpartition("=")
        if not sep or not value.strip() or role.strip() not in ROLES:
            raise _Error(
                f"{PREFIX}OIDC_ROLE_MAP: each item is claim-value=role, the role one of "
                f"{', '.join(ROLES)}; got {item.strip()!r}"
            )
        mapping[value.strip()] = role.strip()
    if not mapping:
        raise _Error(f"{PREFIX}OIDC_ROLE_MAP maps no claim value to a role")
    return mapping


def session_settings(env: Mapping[str, str]) -> dict[str, Any]:
    idle = _int(env, "SESSION_IDLE_MINUTES", 30, 1, 24 * 60)
    absolute = _int(env, "SESSION_ABSOLUTE_MINUTES", 12 * 60, 1, 7 * 24 * 60)
    if idle > absolute:
        raise _Error(
            f"{PREFIX}SESSION_IDLE_MINUTES ({idle}) is longer than "
            f"{PREFIX}SESSION_ABSOLUTE_MINUTES ({absolute})"
        )
    return {"SESSION_IDLE_MINUTES": idle, "SESSION_ABSOLUTE_MINUTES": absolute}


def oidc_settings(
    env: Mapping[str, str], *, production: bool, secret: str | None
) -> dict[str, Any]:
    """OpenID Connect sign-in (services/oidc.py); off while CARDSERVICE_OIDC_ISSUER is empty."""
    # Kept exactly as given: the provider's metadata and tokens must name this very string
    # (LemonLDAP::NG's issuer ends with a slash, Keycloak's does not).
    issuer = (env.get(PREFIX + "OIDC_ISSUER") or "").strip()
    local_passwords = _bool(env, "LOCAL_PASSWORDS", True)
    settings: dict[str, Any] = {"OIDC_ENABLED": bool(issuer), "LOCAL_PASSWORDS": local_passwords}
    if not issuer:
        if not local_passwords:
            raise _Error(
                f"{PREFIX}LOCAL_PASSWORDS is off but no {PREFIX}OIDC_ISSUER is set: nobody "
                "could sign in"
            )
        return settings
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise _Error(f"{PREFIX}OIDC_ISSUER must be the provider's https:// issuer URL")
    if parts.scheme == "http" and (production or not is_loopback_url(issuer)):
        # Plain HTTP lets anyone on the path read the code and forge the provider's answers;
        # only a provider on this machine (tests, a developer's laptop) may use it.
        raise _Error(
            f"{PREFIX}OIDC_ISSUER must be an https:// URL (http:// only for a provider on "
            "127.0.0.1 or localhost, never in production)"
        )
    client_id = (env.get(PREFIX + "OIDC_CLIENT_ID") or "").strip()
    if not client_id:
        raise _Error(f"{PREFIX}OIDC_ISSUER is set: {PREFIX}OIDC_CLIENT_ID is needed too")
    if not secret:
        raise _Error(
            f"{PREFIX}OIDC_ISSUER is set: give the client secret as {PREFIX}OIDC_CLIENT_SECRET "
            f"or in a file named by {PREFIX}OIDC_CLIENT_SECRET_FILE"
        )
    scopes = _list(env, "OIDC_SCOPES", "openid profile email")
    if "openid" not in scopes:
        raise _Error(f"{PREFIX}OIDC_SCOPES must include openid")
    settings.update(
        OIDC_ISSUER=issuer,
        OIDC_CLIENT_ID=client_id,
        OIDC_CLIENT_SECRET=secret,
        OIDC_SCOPES=" ".join(scopes),
        OIDC_ROLE_CLAIM=(env.get(PREFIX + "OIDC_ROLE_CLAIM") or "roles").strip(),
        OIDC_ROLE_MAP=_role_map(env.get(PREFIX + "OIDC_ROLE_MAP") or DEFAULT_ROLE_MAP),
        OIDC_USERNAME_CLAIM=(
            env.get(PREFIX + "OIDC_USERNAME_CLAIM") or "preferred_username"
        ).strip(),
        OIDC_PROVISION=_bool(env, "OIDC_PROVISION", True),
        OIDC_LINK_EXISTING=_bool(env, "OIDC_LINK_EXISTING", False),
        OIDC_MFA_ACR=_list(env, "OIDC_MFA_ACR", ""),
        OIDC_MFA_AMR=_list(env, "OIDC_MFA_AMR", "mfa"),
        OIDC_ACR_VALUES=" ".join(_list(env, "OIDC_ACR_VALUES", "")),
        OIDC_TIMEOUT_SECONDS=_int(env, "OIDC_TIMEOUT_SECONDS", 10, 1, 60),
        # Leeway on the ID token's times: for clocks out of step, not for old tokens (Authlib's
        # own 120 s is more than NTP-synchronised servers need).
        OIDC_CLOCK_SKEW_SECONDS=_int(env, "OIDC_CLOCK_SKEW_SECONDS", 30, 0, 300),
    )
    return settings


def token_settings(env: Mapping[str, str]) -> dict[str, Any]:
    from limits import parse_many

    limit = (env.get(PREFIX + "RATELIMIT_TOKEN") or "5 per second;120 per minute").strip()
    try:
        parse_many(limit)
    except ValueError:
        raise _Error(
            f"{PREFIX}RATELIMIT_TOKEN must be a limit such as '120 per minute', got {limit!r}"
        ) from None
    return {
        "TOKEN_DAYS": _int(env, "TOKEN_DAYS", 90, 1, 366),
        "RATELIMIT_TOKEN": limit,
    }


def auth_settings(
    env: Mapping[str, str], *, production: bool, oidc_secret: str | None
) -> dict[str, Any]:
    """Everything above; raises ValueError (config.py turns it into ConfigError)."""
    try:
        settings = session_settings(env)
        settings.update(oidc_settings(env, production=production, secret=oidc_secret))
        settings.update(token_settings(env))
    except _Error as exc:
        raise ValueError(str(exc)) from None
    return settings
