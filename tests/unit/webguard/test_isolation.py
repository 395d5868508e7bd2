"""webguard is shared by both apps, so it may import neither (nor the card format): the verifier
must run without cardservice code, and an app must not pull in the other through it."""

from __future__ import annotations

import subprocess
import sys

_IMPORT_ALL = (
    "import importlib, pkgutil, sys, webguard; "
    "modules = pkgutil.walk_packages(webguard.__path__, 'webguard.'); "
    "[importlib.import_module(m.name) for m in modules]; "
)


def test_webguard_imports_neither_app() -> None:
    code = (
        _IMPORT_ALL + "loaded = {m.split('.')[0] for m in sys.modules}; "
        "leaked = {'cardservice', 'verifier', 'cardformat'} & loaded; "
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_webguard_has_the_modules_both_apps_import() -> None:
    # The walk above must have something to walk: the modules the apps and gunicorn load.
    code = (
        _IMPORT_ALL
        + "wanted = {'webguard.proxy', 'webguard.gunicorn_logging', 'webguard.ratelimit'}; "
        "assert wanted <= set(sys.modules), wanted - set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_itself_imports_nothing() -> None:
    # Each app loads only what it uses: the verifier never needs gunicorn imported by its app.
    code = (
        "import sys; before = set(sys.modules); import webguard; "
        "new = set(sys.modules) - before; assert new == {'webguard'}, new"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
