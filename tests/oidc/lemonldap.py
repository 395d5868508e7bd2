"""Start a real LemonLDAP::NG portal on loopback as an OpenID Provider, configured as
docs/operations.md ("LemonLDAP::NG") tells a city to configure it.

Debian's packages (liblemonldap-ng-portal-perl, lemonldap-ng-fastcgi-server; `make
system-packages` installs them) run the portal: its FastCGI server behind an nginx started here,
both on free loopback ports. The configuration is LemonLDAP::NG's File backend (lmConf-1.json,
what its manager saves) in a temporary folder, named by a lemonldap-ng.ini of that folder.
Members come from the Demo backend (dwho/dwho, rtyler/rtyler, msmith/msmith); the directory
groups the guide maps to roles are LemonLDAP::NG groups defined by rules on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scripts.stack import free_port

from .harness import stop

FASTCGI_SERVER = "/usr/sbin/llng-fastcgi-server"
PORTAL_FILES = Path("/usr/share/lemonldap-ng/portal")
#: Debian's initial configuration (liblemonldap-ng-common-perl).
INITIAL_CONF = Path("/var/lib/lemonldap-ng/conf/lmConf-1.json")
CLIENT_ID = "cardservice"
CLIENT_SECRET = "llng-client-secret-0123456789abcdef"
#: The guide's example, word for word.
ROLE_MAP = "cardservice-admins=admin,cardservice-supervisors=supervisor,cardservice-clerks=clerk"
#: Members whose sign-in takes a second factor: LemonLDAP::NG's "External" module, its code
#: "sent" by a command that writes it where the test reads it (a city's would text or mail it).
SECOND_FACTOR_USERS = ("dwho",)
#: LemonLDAP::NG groups (Variables → Groups): a name and the rule that puts a member in it. A
#: city's would test its directory's attributes; the Demo members have only uid, cn and mail.
GROUPS = {
    "cardservice-admins": "$uid eq 'dwho'",
    "cardservice-clerks": "$uid eq 'rtyler'",
}


@dataclass
class Portal:
    issuer: str
    folder: Path
    address: str  # where it listens (the issuer, unless something stands in front of it)

    def env(self, **extra: str) -> dict[str, str]:
        """The cardservice settings of the guide's LemonLDAP::NG section, for this portal."""
        return {
            "CARDSERVICE_OIDC_ISSUER": self.issuer,
            "CARDSERVICE_OIDC_CLIENT_ID": CLIENT_ID,
            "CARDSERVICE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CARDSERVICE_OIDC_SCOPES": "openid profile email roles",
            "CARDSERVICE_OIDC_ROLE_MAP": ROLE_MAP,
            "CARDSERVICE_OIDC_MFA_ACR": "loa-3,loa-4,loa-5",
            **extra,
        }

    def sent_code(self, username: str) -> str:
        """The second-factor code the portal last sent ``username`` (SECOND_FACTOR_USERS)."""
        return (self.folder / "codes" / username).read_text(encoding="utf-8").strip()


#: Perl modules the portal loads at start beyond its own packages' Depends (their Recommends).
PERL_MODULES = ("GD::SecurityImage", "Image::Magick", "String::Random", "IO::String")


def _require_packages() -> None:
    missing = [
        str(path)
        for path in (FASTCGI_SERVER, PORTAL_FILES / "htdocs" / "index.psgi", INITIAL_CONF)
        if not Path(path).exists()
    ]
    missing += [tool for tool in ("nginx", "perl") if shutil.which(tool) is None]
    if not missing:
        for module in PERL_MODULES:
            check = subprocess.run(["perl", f"-M{module}", "-e", "1"], capture_output=True)
            if check.returncode != 0:
                missing.append(f"the Perl module {module}")
    if missing:
        pytest.fail(
            "LemonLDAP::NG is not installed (missing " + ", ".join(missing) + "): run "
            "`make system-packages` (scripts/system-packages.sh installs "
            "liblemonldap-ng-portal-perl, lemonldap-ng-fastcgi-server and the modules it loads)"
        )


def _signing_key() -> tuple[str, str]:
    """A fresh RSA key pair (PEM private, PEM public) for the portal's RS256 signatures."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def configuration(portal: str, folder: Path, redirect_uris: list[str]) -> dict[str, Any]:
    """lmConf-1.json: Debian's initial configuration (what a fresh install starts from) after
    the guide's steps in the manager, on a plain-HTTP loopback portal with its files in
    ``folder``."""
    conf: dict[str, Any] = json.loads(INITIAL_CONF.read_text(encoding="utf-8"))
    private, public = _signing_key()
    conf.update(
        {
            "cfgNum": 1,
            "cfgAuthor": "tests/oidc/lemonldap.py",
            "cfgDate": int(time.time()),  # the portal loads no configuration without its date
            "portal": portal,
            # The SSO cookie is the portal's own on loopback, sent over plain HTTP.
            "domain": "127.0.0.1",
            "https": 0,
            "securedCookie": 0,
            # Debian's initial configuration lets anyone register an account: never here.
            "registerDB": "Null",
            "locationRules": {"127.0.0.1": {"default": "accept"}},
            "exportedHeaders": {},
            "reloadUrls": {},
            "notification": 0,
            "loginHistoryEnabled": 0,
            "globalStorageOptions": {
                **conf["globalStorageOptions"],
                "Directory": str(folder / "sessions"),
                "LockDirectory": str(folder / "sessions" / "lock"),
            },
            "persistentStorageOptions": {
                "Directory": str(folder / "psessions"),
                "LockDirectory": str(folder / "psessions" / "lock"),
            },
            "localSessionStorageOptions": {
                **conf["localSessionStorageOptions"],
                "cache_root": str(folder / "cache"),
            },
            # Variables → Groups
            "groups": GROUPS,
            # Second factors → External second factor: the level it raises the session to.
            "ext2fActivation": " or ".join(f"$uid eq '{uid}'" for uid in SECOND_FACTOR_USERS),
            "ext2fCodeActivation": "\\d{6}",
            "ext2FSendCommand": f"{folder / 'send-code'} $uid $code",
            "ext2fAuthnLevel": 3,
            # OpenID Connect Service: issuer, RS256 signing key; claims only in their scopes.
            "issuerDBOpenIDConnectActivation": 1,
            "oidcServiceMetaDataIssuer": portal,
            "oidcServicePrivateKeySig": private,
            "oidcServicePublicKeySig": public,
            "oidcServiceKeyIdSig": "test-" + os.urandom(4).hex(),
            "oidcServiceIgnoreScopeForClaims": 0,
            # OpenID Connect Relying Parties → cardservice
            "oidcRPMetaDataOptions": {
                CLIENT_ID: {
                    "oidcRPMetaDataOptionsClientID": CLIENT_ID,
                    "oidcRPMetaDataOptionsClientSecret": CLIENT_SECRET,
                    "oidcRPMetaDataOptionsPublic": 0,
                    "oidcRPMetaDataOptionsRedirectUris": " ".join(redirect_uris),
                    "oidcRPMetaDataOptionsRequirePKCE": 1,
                    "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
                    "oidcRPMetaDataOptionsBypassConsent": 1,
                }
            },
            "oidcRPMetaDataExportedVars": {
                CLIENT_ID: {
                    "preferred_username": "uid",
                    "name": "cn",
                    "email": "mail",
                    "roles": "groups;string;always",
                }
            },
            "oidcRPMetaDataOptionsExtraClaims": {CLIENT_ID: {"roles": "roles"}},
        }
    )
    return conf


def _ini(folder: Path) -> str:
    return (
        "[all]\nlogLevel = warn\ncheckTime = 1\n"
        f"[configuration]\ntype = File\ndirName = {folder / 'conf'}\n"
        "[portal]\nstaticPrefix = /static\n"
        f"templateDir = {PORTAL_FILES / 'templates'}\nlanguages = en\n"
    )


def _nginx_conf(folder: Path, port: int, fastcgi_port: int) -> str:
    """Debian's /etc/lemonldap-ng/portal-nginx.conf, on loopback, in this folder."""
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/nginx/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    htdocs = PORTAL_FILES / "htdocs"
    return (
        f"{user}worker_processes 1;\npid {folder}/nginx/nginx.pid;\n"
        f"error_log {folder}/nginx/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"{temp}\n"
        f"    access_log {folder}/nginx/access.log;\n"
        "    include /etc/nginx/mime.types;\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        f"        root {htdocs}/;\n"
        "        if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {\n"
        "            rewrite ^/(.*)$ /index.psgi/$1 break;\n"
        "        }\n"
        "        location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {\n"
        "            include /etc/nginx/fastcgi_params;\n"
        f"            fastcgi_pass 127.0.0.1:{fastcgi_port};\n"
        "            fastcgi_param HTTP_HOST $host;\n"
        "            fastcgi_param LLTYPE psgi;\n"
        "            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
        "            fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;\n"
        "            fastcgi_param PATH_INFO $fastcgi_path_info;\n"
        "        }\n"
        f"        location /static/ {{ alias {htdocs}/static/; }}\n"
        "        location /javascript/ { alias /usr/share/javascript/; }\n"
        "    }\n"
        "}\n"
    )


def _ends(text: str) -> str:
    """A log's beginning (where the first error is) and its end."""
    return text if len(text) < 4000 else f"{text[:2000]}\n[...]\n{text[-2000:]}"


def _wait_ready(url: str, processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    last: object = None
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        try:
            response = requests.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = response.status_code
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    tails = "\n".join(
        f"--- {log.name}\n{_ends(log.read_text(errors='replace'))}" for log in logs if log.exists()
    )
    pytest.fail(f"the LemonLDAP::NG portal did not start ({last}):\n{tails}")


@contextmanager
def run_portal(redirect_uris: list[str], *, issuer: str | None = None) -> Iterator[Portal]:
    """The portal on a free loopback port, its counter client allowed ``redirect_uris``;
    ``issuer``: its address (portal and issuer) when something stands in front of it."""
    _require_packages()
    folder = Path(tempfile.mkdtemp(prefix="llng-"))
    folder.chmod(0o755)
    port, fastcgi_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    address = f"http://127.0.0.1:{port}/"
    portal = issuer or address
    for name in ("conf", "sessions/lock", "psessions/lock", "cache", "nginx", "logs"):
        (folder / name).mkdir(mode=0o755, parents=True)
    (folder / "codes").mkdir(mode=0o755)
    (folder / "send-code").write_text(
        f'#!/bin/sh\nprintf %s "$2" > {folder / "codes"}/"$1"\n', encoding="utf-8"
    )
    (folder / "send-code").chmod(0o755)
    conf = configuration(portal, folder, redirect_uris)
    (folder / "conf" / "lmConf-1.json").write_text(json.dumps(conf, indent=1), encoding="utf-8")
    (folder / "lemonldap-ng.ini").write_text(_ini(folder), encoding="utf-8")
    (folder / "nginx" / "nginx.conf").write_text(
        _nginx_conf(folder, port, fastcgi_port), encoding="utf-8"
    )
    command = [
        FASTCGI_SERVER,
        "--foreground",
        "--proc",
        "2",
        "--listen",
        f"127.0.0.1:{fastcgi_port}",
    ]
    command += ["--pid", str(folder / "logs" / "llng.pid")]
    if os.geteuid() == 0:
        # The FastCGI server refuses to run as root; the sessions are written as its user.
        command += ["--user", "nobody", "--group", "nogroup"]
        for path in [folder, *folder.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
    env = {
        **os.environ,
        "LLNG_DEFAULTCONFFILE": str(folder / "lemonldap-ng.ini"),
        "LLNG_DEFAULTLOGGER": "Lemonldap::NG::Common::Logger::Std",
    }
    nginx = ["nginx", "-p", str(folder / "nginx"), "-c", str(folder / "nginx" / "nginx.conf")]
    servers = [
        (command, env, folder / "logs" / "fastcgi.log"),
        ([*nginx, "-g", "daemon off;"], None, folder / "logs" / "nginx.log"),
    ]
    logs = [log for _, _, log in servers] + [folder / "nginx" / "error.log"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for argv, environ, log in servers:
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(argv, env=environ, stdout=out, stderr=subprocess.STDOUT)
                )
        _wait_ready(f"{address}.well-known/openid-configuration", processes, logs)
        yield Portal(issuer=portal, folder=folder, address=address)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _form(page: str, marker: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's form holding ``marker``."""
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        if marker in form:
            action = re.search(r'action="([^"]*)"', form)
            hidden = re.findall(
                r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form
            )
            return (action.group(1) if action else ""), dict(hidden)
    raise AssertionError(f"no form with {marker} on the page: {page[:1500]}")


def sign_in_at_portal(
    portal: Portal,
    location: str,
    username: str,
    password: str,
    until: str,
    browser: requests.Session | None = None,
) -> str:
    """Play the browser at the portal from an authorization request's URL: fill its login form
    (user, password and the hidden fields it carries), and its second-factor form with the code
    the portal sent; returns the redirect URL starting with ``until`` it sends the browser to."""
    browser = browser or requests.Session()
    url = location
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (200, 401) and 'name="user"' in response.text:
            action, fields = _form(response.text, 'name="user"')
            response = browser.post(
                urljoin(url, action or url),
                data={**fields, "user": username, "password": password},
                allow_redirects=False,
                timeout=10,
            )
        if response.status_code == 200 and 'name="code"' in response.text:
            action, fields = _form(response.text, 'name="code"')
            response = browser.post(
                urljoin(url, action),
                data={**fields, "code": portal.sent_code(username)},
                allow_redirects=False,
                timeout=10,
            )
        assert response.status_code in (302, 303), (response.status_code, response.text[:1500])
        url = urljoin(url, response.headers["Location"])
        if url.startswith(until):
            return url
    raise AssertionError("the portal never sent the browser back")
