"""Flask extensions as module objects, wired to the app in create_app() with init_app().

Importing these never needs an app, so models, services and blueprints can import them freely.
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .csrf import OriginCheckingCSRFProtect

# Deterministic constraint names: Alembic needs them to alter or drop constraints later, and
# SQLite batch migrations cannot work without them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# hide_parameters on every engine (the resident database and the key store, whatever options a
# deployment or a test adds): a database error's message then never quotes a statement's values,
# which are names, birth dates and wrapped keys, into a log line (docs/privacy.md, rule 7).
db = SQLAlchemy(model_class=Base, engine_options={"hide_parameters": True})
migrate = Migrate()
# Every form of the staff UI carries a CSRF token; the bearer-token JSON API is exempted in
# create_app() because it sends no cookies a browser could be tricked into replaying. Forms are
# also checked for where they came from (csrf.py).
csrf = OriginCheckingCSRFProtect()
login_manager = LoginManager()
login_manager.session_protection = "strong"
