"""What both web apps need to be served safely behind a reverse proxy.

- ``webguard.proxy``: forwarded headers (X-Forwarded-For, -Proto, -Host) believed only from the
  proxy's own addresses, so a client cannot choose its address and escape a rate limit;
- ``webguard.gunicorn_logging``: gunicorn's error log without client addresses or request lines;
- ``webguard.ratelimit``: Flask-Limiter's breach line without the client address, and the rule
  that production counts a limit in a storage every worker shares;
- ``webguard.images``: untrusted image bytes: the decoding cost estimated from the headers, and a
  PNG stripped of everything but its pixels, before Pillow decodes anything;
- ``webguard.secret_files``: a secret given as a file (``<APP>_<NAME>_FILE``), read the same way
  by both apps, and a development secret generated once into the instance folder;
- ``webguard.fetch``: public documents downloaded with a timeout, a size cap, retries and ETags,
  following only http(s) (the verifier's sync and the network coordinator's tool);
- ``webguard.keyseal``: private keys at rest, sealed under a passphrase (the issuance app's keys
  and the network coordinator's root key), and the rule for a passphrase strong enough.

Why a package of its own: the issuance app (``cardservice``) and the verifier need the same rules,
written once, yet the verifier imports no cardservice code (a partner city runs it alone) and
``cardformat`` may import only cryptography and cbor2. So the rules live here, and this package
imports neither app (tests/unit/webguard/test_isolation.py): each app passes in its own settings
and turns a ``ValueError`` from here into its own ConfigError. Nothing is imported by this file,
so an app loads only the modules it uses.
"""
