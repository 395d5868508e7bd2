"""gunicorn settings for the issuance service (boot.sh passes this file with --config).

Every value can be overridden from the environment, so the same file serves a laptop and the
container.
"""

import multiprocessing
import os

bind = os.environ.get("CARDSERVICE_BIND", "127.0.0.1:8000")
# Card signing and PDF rendering are CPU-bound: one worker per core (plus one), capped.
workers = int(os.environ.get("CARDSERVICE_WORKERS", min(multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("CARDSERVICE_THREADS", 2))
worker_class = "gthread"
# Rendering a batch happens in the CLI, not in a request; 30 s is ample for one card.
timeout = int(os.environ.get("CARDSERVICE_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Load the app before forking: a configuration error stops the master with one clear message
# instead of every worker failing in turn.
preload_app = True
# Bounded request lines and headers (a 10 kB URL is an attack, not a card number).
limit_request_line = 4096
limit_request_fields = 64
limit_request_field_size = 8190

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("CARDSERVICE_LOG_LEVEL", "info").lower()
# No query strings, referrers or user agents in the access log: a search form's query could
# carry a name. %(U)s is the path only.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Only the proxy itself may set X-Forwarded-*; see CARDSERVICE_PROXY_HOPS.
forwarded_allow_ips = os.environ.get("CARDSERVICE_FORWARDED_ALLOW_IPS", "127.0.0.1")
# No control socket (gunicorn 25.1+ opens one in $HOME/.gunicorn by default): the image's user
# may not write its home, two instances on one machine would share one socket path, and the
# service is managed with signals. Older gunicorn releases ignore the setting.
control_socket_disable = True
