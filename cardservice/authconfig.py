"""Settings of staff authentication: session timeouts, OpenID Connect single sign-on, API tokens,
device cookies.

Read by config.load_config() from the environment (docs/operations.md, "Staff sign-in"). Like
the rest of the configuration, a setting that would weaken production stops the start with a
message naming the variable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .envsettings import ENV_PREFIX as PREFIX
from .envsettings import ConfigError, comma_list, env_bool, env_int, env_rate_limit
from .models import ROLES

DEFAULT_ROLE_MAP = "admin=admin,supervisor=supervisor,clerk=clerk"


def _words(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    """A list given with commas or spaces ("openid profile email")."""
    raw = env.get(PREFIX + name)
    return comma_list((default if raw is None else raw).replace(" ", ","))


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
            raise ConfigError(
                f"{PREFIX}OIDC_ROLE_MAP: each item is claim-value=role, the role one of "
                f"{', '.join(ROLES)}; got {item.strip()!r}"
            )
        mapping[value.strip()] = role.strip()
    if not mapping:
        raise ConfigError(f"{PREFIX}OIDC_ROLE_MAP maps no claim value to a role")
    return mapping


def session_settings(env: Mapping[str, str]) -> dict[str, Any]:
    idle = env_int(env, "SESSION_IDLE_MINUTES", 30, 1, 24 * 60)
    absolute = env_int(env, "SESSION_ABSOLUTE_MINUTES", 12 * 60, 1, 7 * 24 * 60)
    if idle > absolute:
        raise ConfigError(
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
    local_passwords = env_bool(env, "LOCAL_PASSWORDS", True)
    settings: dict[str, Any] = {"OIDC_ENABLED": bool(issuer), "LOCAL_PASSWORDS": local_passwords}
    if not issuer:
        if not local_passwords:
            raise ConfigError(
                f"{PREFIX}LOCAL_PASSWORDS is off but no {PREFIX}OIDC_ISSUER is set: nobody "
                "could sign in"
            )
        return settings
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise ConfigError(f"{PREFIX}OIDC_ISSUER must be the provider's https:// issuer URL")
    if parts.scheme == "http" and (production or not is_loopback_url(issuer)):
        # Plain HTTP lets anyone on the path read the code and forge the provider's answers;
        # only a provider on this machine (tests, a developer's laptop) may use it.
        raise ConfigError(
            f"{PREFIX}OIDC_ISSUER must be an https:// URL (http:// only for a provider on "
            "127.0.0.1 or localhost, never in production)"
        )
    client_id = (env.get(PREFIX + "OIDC_CLIENT_ID") or "").strip()
    if not client_id:
        raise ConfigError(f"{PREFIX}OIDC_ISSUER is set: {PREFIX}OIDC_CLIENT_ID is needed too")
    if not secret:
        raise ConfigError(
            f"{PREFIX}OIDC_ISSUER is set: give the client secret as {PREFIX}OIDC_CLIENT_SECRET "
            f"or in a file named by {PREFIX}OIDC_CLIENT_SECRET_FILE"
        )
    scopes = _words(env, "OIDC_SCOPES", "openid profile email")
    if "openid" not in scopes:
        raise ConfigError(f"{PREFIX}OIDC_SCOPES must include openid")
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
        OIDC_PROVISION=env_bool(env, "OIDC_PROVISION", True),
        OIDC_LINK_EXISTING=env_bool(env, "OIDC_LINK_EXISTING", False),
        OIDC_MFA_ACR=_words(env, "OIDC_MFA_ACR", ""),
        OIDC_MFA_AMR=_words(env, "OIDC_MFA_AMR", "mfa"),
        OIDC_ACR_VALUES=" ".join(_words(env, "OIDC_ACR_VALUES", "")),
        OIDC_TIMEOUT_SECONDS=env_int(env, "OIDC_TIMEOUT_SECONDS", 10, 1, 60),
        # Leeway on the ID token's times: for clocks out of step, not for old tokens (Authlib's
        # own 120 s is more than NTP-synchronised servers need).
        OIDC_CLOCK_SKEW_SECONDS=env_int(env, "OIDC_CLOCK_SKEW_SECONDS", 30, 0, 300),
    )
    return settings


def token_settings(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "TOKEN_DAYS": env_int(env, "TOKEN_DAYS", 90, 1, 366),
        "RATELIMIT_TOKEN": env_rate_limit(env, "RATELIMIT_TOKEN", "5 per second;120 per minute"),
    }


def auth_settings(
    env: Mapping[str, str], *, production: bool, oidc_secret: str | None
) -> dict[str, Any]:
    """Everything above; raises ConfigError."""
    settings = session_settings(env)
    settings.update(oidc_settings(env, production=production, secret=oidc_secret))
    settings.update(token_settings(env))
    # How long a browser that signed in stays trusted past the account's lockout
    # (services/devices.py); 0 switches device cookies off.
    settings["DEVICE_COOKIE_DAYS"] = env_int(env, "DEVICE_COOKIE_DAYS", 90, 0, 366)
    return settings
