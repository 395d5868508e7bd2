"""The issuance service: the city's system of record for its citizenship cards.

``create_app()`` builds the Flask app: configuration from ``config/`` and the environment,
extensions, the JSON API (/api/v1), the public documents (/.well-known/citycard/...), and the staff
UI (the ``counter`` blueprint) when it is installed.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Response, jsonify

from .config import ConfigError, load_config

__all__ = ["ConfigError", "create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory.

    `test_config` overrides the loaded configuration (tests use it for the database URL and the
    instance folder). Raises ConfigError, with a message for the operator, when a required
    setting or secret is missing.
    """
    config = load_config()
    if test_config:
        config.update(test_config)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(config)
    _configure_keystore_bind(app)
    _private_database_files(app)
    if int(app.config.get("PROXY_HOPS") or 0) > 0:
        from webguard.proxy import TrustedProxyFix, parse_networks

        networks = parse_networks(app.config["TRUSTED_PROXY_ADDRESSES"])
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, hops, networks)  # type: ignore[method-assign]
    # Sessions are server side (serversession.py); this bounds their cookie only.
    app.permanent_session_lifetime = timedelta(minutes=int(app.config["SESSION_ABSOLUTE_MINUTES"]))

    logging.getLogger("cardservice").setLevel(app.config["LOG_LEVEL"])
    if app.config["CARDSERVICE_ENV"] == "testing":
        from .services.passwords import use_fast_password_hashing

        use_fast_password_hashing()

    from . import accesslog, ratelimit, security, serversession
    from .extensions import csrf, db, login_manager, migrate
    from .services.context import EXTENSION_KEY, build_deps

    db.init_app(app)
    with app.app_context():
        from .models import KEYSTORE_BIND, use_write_ahead_log

        use_write_ahead_log(db.engines[KEYSTORE_BIND])
    from . import dbfaults

    dbfaults.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    serversession.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    accesslog.init_app(app)
    _init_i18n(app)
    app.extensions[EXTENSION_KEY] = build_deps(app)
    # A wrong passphrase, master key or index key stops the start here (ConfigError), before a
    # worker forks or a command writes (services/keycheck.py).
    from .services.keycheck import check_at_start

    check_at_start(app)

    def _load_user(user_id: str) -> Any:
        from .models import StaffUser

        if not user_id.isdigit():
            return None
        user = db.session.get(StaffUser, int(user_id))
        return user if user is not None and user.active else None

    login_manager.user_loader(_load_user)

    from .api import bp as api_bp
    from .publish import bp as publish_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(publish_bp)
    # The bearer-token API sends no ambient credentials, so CSRF tokens do not apply to it.
    csrf.exempt(api_bp)

    if _has_module("counter"):
        from .counter import bp as counter_bp

        app.register_blueprint(counter_bp)
        login_manager.login_view = "counter.login"
        from .counter.views.sso import init_app as init_sso

        init_sso(app)

    @app.before_request
    def _fresh_locale() -> None:
        # Flask-Babel caches the chosen locale on `g`. A request that runs inside an app context
        # someone else pushed (a test, a CLI command) must not inherit the previous request's
        # language.
        from flask import g

        g.pop("_flask_babel", None)

    from .errors import register_error_handlers

    register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness and database reachability, for load balancers and Docker HEALTHCHECK.

        `status_lists` says whether every cached status-list token matches its list (the cheap
        check of services.statuscheck); `signing_key` how long the active signing key has left
        (services.keyhealth). Both are for monitoring to alert on, not reasons to take the
        instance out of service, so the status code stays 200.
        """
        from datetime import UTC, datetime

        from sqlalchemy import text

        from .models import KEYSTORE_BIND
        from .services.keyhealth import signing_key_health
        from .services.statuscheck import check_tokens

        try:
            db.session.execute(text("SELECT 1"))
            # Without the key store no record opens and no erasure can happen: not ready either.
            db.session.execute(text("SELECT 1"), bind_arguments={"bind": db.engines[KEYSTORE_BIND]})
            mismatched = check_tokens(db.session).mismatched
            signing_key = signing_key_health(db.session, now=datetime.now(UTC))
        except Exception:  # any driver error means "not ready"; details go to the log
            logging.getLogger("cardservice").exception("health check: database unreachable")
            response = jsonify(status="unavailable")
            response.status_code = 503
            return response
        finally:
            db.session.rollback()
        return jsonify(
            status="ok",
            status_lists={"ok": not mismatched, "mismatched": mismatched},
            signing_key=signing_key,
        )

    from .cli.commands import register_commands

    register_commands(app)

    # Load every card font now (about 0.5 s, once per process; later apps in the same process
    # find them loaded), so the first card printed after a start or a deploy is not the request
    # that pays for it. Cheap enough to do in tests and CLI runs too.
    from .printing import preload_fonts

    preload_fonts()
    return app


def _configure_keystore_bind(app: Flask) -> None:
    """The data-key store is the Flask-SQLAlchemy bind `keystore` (models.keystore).

    Built from KEYSTORE_DATABASE_URI unless SQLALCHEMY_BINDS already names it; the resident
    database's SQLALCHEMY_ENGINE_OPTIONS apply to the default engine only, so the key store gets
    its own (KEYSTORE_ENGINE_OPTIONS, e.g. a PostgreSQL search_path).
    """
    from .models.keystore import KEYSTORE_BIND

    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    if KEYSTORE_BIND not in binds:
        binds[KEYSTORE_BIND] = {
            "url": app.config["KEYSTORE_DATABASE_URI"],
            # No pool ping: it would double the round trips of the key store's hot path
            # (models.keystore, above read_key_row, says how dropped connections are handled).
            "pool_pre_ping": False,
            **(app.config.get("KEYSTORE_ENGINE_OPTIONS") or {}),
        }
    app.config["SQLALCHEMY_BINDS"] = binds


def _private_database_files(app: Flask) -> None:
    """SQLite files of both databases 0600 from the start (security.private_sqlite_files)."""
    from .security import private_sqlite_files

    binds = app.config["SQLALCHEMY_BINDS"].values()
    urls = [str(app.config["SQLALCHEMY_DATABASE_URI"])]
    urls += [str(bind["url"] if isinstance(bind, dict) else bind) for bind in binds]
    private_sqlite_files(urls)


def _has_module(name: str) -> bool:
    """True when the sibling module or package is really there (built by another team member);
    a bare directory without __init__.py is a namespace package and does not count."""
    spec = importlib.util.find_spec(f"{__name__}.{name}")
    return spec is not None and spec.origin is not None


def _migrations_dir() -> Any:
    from .config import MIGRATIONS_DIR

    return MIGRATIONS_DIR


def _init_i18n(app: Flask) -> None:
    """Babel comes from the counter UI's cardservice.i18n when present (it owns the catalogs)."""
    if _has_module("i18n"):
        from .i18n import init_app

        init_app(app)
    else:
        from flask_babel import Babel

        Babel(app)
