#!/bin/sh
# Start the issuance service: bring the database schema up to date, then serve with gunicorn.
#
# Used as the Docker image's entry point and runnable as is from a checkout with the virtualenv
# on PATH. Settings come from the environment (docs/operations.md); CARDSERVICE_BIND chooses the
# listening address (default 127.0.0.1:8000).
set -eu
cd "$(dirname "$0")"

# Migrations run once here, before any worker starts, so workers never race on the schema.
cardservice db upgrade
# Blind indexes from an older name folding (a no-op once done; see docs/operations.md).
cardservice residents reindex

exec gunicorn --config config/gunicorn.conf.py "cardservice:create_app()"
