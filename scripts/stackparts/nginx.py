"""The stack's nginx: config/nginx/citycard.conf filled in, and the server started around it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .common import ROOT, StackError
from .launchers import Command

NGINX_TEMPLATE = ROOT / "config" / "nginx" / "citycard.conf"


def fill_template(values: dict[str, str]) -> str:
    """The template with each ``{{NAME}}`` replaced by ``values[NAME]``; StackError if the
    template has a placeholder ``values`` lacks."""
    text = NGINX_TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if re.search(r"\{\{[A-Z0-9_]+\}\}", text):
        raise StackError(f"{NGINX_TEMPLATE} has a placeholder the launcher does not know")
    return text


def nginx_command(folder: Path, citycard_conf: str, log_dir: Path) -> Command:
    """Writes nginx's configuration in ``folder`` around ``citycard_conf``, has nginx check it,
    and returns the command that serves it in the foreground."""
    folder.mkdir(mode=0o711)
    (folder / "citycard.conf").write_text(citycard_conf, encoding="utf-8")
    # What Debian's /etc/nginx/nginx.conf provides around conf.d/, in this folder.
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {log_dir}/nginx-error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"{temp}\n"
        "    default_type application/octet-stream;\n"
        f"    include {folder}/citycard.conf;\n"
        f"    access_log {log_dir}/nginx-access.log citycard_redacted;\n"
        "}\n",
        encoding="utf-8",
    )
    check = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(folder), "-c", str(folder / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise StackError(f"nginx refused its configuration:\n{check.stderr}")
    args = ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"]
    return args, dict(os.environ)
