"""The network coordinator's tool, ``citycard-network``: keeps a network's member directory and
publishes it signed (docs/card-format.md section 9, docs/federation.md section 6).

It needs no issuance service, no database and no web server: an instance folder
(``CITYCARD_NETWORK_INSTANCE_PATH``) holds the network's state as JSON and its root key sealed
under ``CITYCARD_NETWORK_KEY_PASSPHRASE`` (webguard.keyseal, as the issuance app seals a city's
keys); ``publish`` writes static files that any web server or CDN serves. Only ``init``,
``publish`` and ``rotate-root`` open the root key, so it can stay offline between publications.
It imports no cardservice code (tests/integration/network/test_tool.py checks it).
"""
