"""gunicorn settings for the verifier (docs/verifier.md):

    gunicorn --config config/verifier.gunicorn.conf.py "verifier:create_app()"

Every value can be overridden from the environment. bench/bench_verify.py serves with this file,
so the figures in docs/performance.md are those of this configuration.
"""

import multiprocessing
import os

bind = os.environ.get("VERIFIER_BIND", "127.0.0.1:8001")
# A verification is short and CPU-bound (a signature check): one process per core, no threads.
# Sync workers expect a buffering reverse proxy in front (docs/verifier.md).
workers = int(os.environ.get("VERIFIER_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
timeout = int(os.environ.get("VERIFIER_TIMEOUT", 30))
graceful_timeout = 20
# Bounded request lines and headers; the bodies are bounded by the app (VERIFIER_MAX_*_BYTES).
limit_request_line = 4096
limit_request_fields = 64
limit_request_field_size = 8190

# No access log: a line per request would say when, and from which agent's address, each card
# was checked, which the verifier must not record (docs/privacy.md, rule 3). What is counted
# is per result code only (GET /healthz).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("VERIFIER_LOG_LEVEL", "info").lower()
# gunicorn's own error lines name the client's address ("Invalid request from ip=..."): this
# logger withholds it, and the request line (webguard/gunicorn_logging.py, shared with the
# issuance app; it imports no cardservice code).
logger_class = "webguard.gunicorn_logging.GunicornLogger"
# Only the proxy itself may set X-Forwarded-Proto: the same addresses the app trusts for
# X-Forwarded-For (VERIFIER_TRUSTED_PROXY_ADDRESSES, with VERIFIER_TRUSTED_PROXIES).
forwarded_allow_ips = os.environ.get("VERIFIER_TRUSTED_PROXY_ADDRESSES", "127.0.0.1,::1")
# No control socket (gunicorn 25.1+ opens one in $HOME/.gunicorn by default): the image's user
# may not write its home, two instances on one machine would share one socket path, and the
# service is managed with signals. Older gunicorn releases ignore the setting.
control_socket_disable = True
