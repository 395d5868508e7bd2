"""webguard is shared by both apps, so it may import neither (nor the card format): the verifier
must run without cardservice code, and an app must not pull in the other through it."""

from __future__ import annotations

from tests.unit.imports import modules_loaded_by, top_level

# Every module of the package, present and future.
_IMPORT_ALL = (
    "import importlib, pkgutil, webguard\n"
    "for m in pkgutil.walk_packages(webguard.__path__, 'webguard.'):\n"
    "    importlib.import_module(m.name)"
)


def test_webguard_imports_neither_app() -> None:
    loaded = modules_loaded_by(_IMPORT_ALL)
    # The walk must have had something to walk: the modules the apps and gunicorn load.
    assert {"webguard.proxy", "webguard.gunicorn_logging", "webguard.ratelimit"} <= loaded
    leaked = {"cardservice", "verifier", "cardformat"} & top_level(loaded)
    assert not leaked, leaked


def test_the_package_itself_imports_nothing() -> None:
    # Each app loads only what it uses: the verifier's app never imports gunicorn through it.
    assert modules_loaded_by("import webguard") == {"webguard"}
