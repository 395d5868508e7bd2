"""Reading one setting from the environment: the parsers config.py and authconfig.py share, and
the error they raise.

Every message names the variable, so an operator knows what to set; a blank value counts as
unset where a default applies.
"""

from __future__ import annotations

from collections.abc import Mapping

ENV_PREFIX = "CARDSERVICE_"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def parse_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"expected an integer, got {value!r}") from None


def comma_list(raw: str) -> tuple[str, ...]:
    """ "a, b,,c" -> ("a", "b", "c")."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or not raw.strip():
        return default
    try:
        return parse_bool(raw)
    except ConfigError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name}: {exc}") from None


def env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(ENV_PREFIX + name)
    try:
        value = default if raw is None or not raw.strip() else parse_int(raw)
    except ConfigError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name}: {exc}") from None
    if not low <= value <= high:
        raise ConfigError(f"{ENV_PREFIX}{name} must be between {low} and {high}, got {value}")
    return value


def env_rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A Flask-Limiter limit ("10 per minute", several joined by ";"), checked now rather than
    at the first request it would apply to."""
    from limits import parse_many

    value = (env.get(ENV_PREFIX + name) or default).strip()
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name} must be a limit such as '{default.split(';')[-1]}', got {value!r}"
        ) from None
    return value


def env_secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret given as CARDSERVICE_<NAME>, or in the file CARDSERVICE_<NAME>_FILE names (a
    Docker or systemd credential); None when neither is set."""
    direct = env.get(ENV_PREFIX + name)
    if direct:
        return direct
    path = env.get(ENV_PREFIX + name + "_FILE")
    if not path:
        return None
    from webguard.secret_files import read_secret_file

    try:
        return read_secret_file(path, f"{ENV_PREFIX}{name}_FILE")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
