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
# Paths carry resident ids and card numbers: this logger writes the route a request matched
# instead (%(U)s becomes e.g. /api/v1/cards/<number>), and keeps client addresses and request
# lines out of the error log (cardservice/accesslog.py).
logger_class = "cardservice.accesslog.GunicornLogger"
# No query strings, referrers, user agents or client addresses in the access log: a search
# form's query could carry a name, and the proxy in front logs who connected.
access_log_format = '"%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Only the proxy itself may set X-Forwarded-Proto: the same addresses the app trusts for
# X-Forwarded-For (CARDSERVICE_TRUSTED_PROXY_ADDRESSES, with CARDSERVICE_PROXY_HOPS).
forwarded_allow_ips = os.environ.get("CARDSERVICE_TRUSTED_PROXY_ADDRESSES", "127.0.0.1,::1")
# No control socket (gunicorn 25.1+ opens one in $HOME/.gunicorn by default): the image's user
# may not write its home, two instances on one machine would share one socket path, and the
# service is managed with signals. Older gunicorn releases ignore the setting.
control_socket_disable = True
