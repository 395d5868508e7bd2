"""Counter views: parse the form, call one service, map its result or domain error to a page.

No business rule lives here. The services own validation of content, transactions and the
audit log; these views only translate between HTTP and them, and pick which page to show.
One module per area of the counter; importing them registers their routes, error handlers and
template context on the blueprint.
"""

from __future__ import annotations

from . import (  # noqa: F401  (registers the routes on bp)
    account_security,
    admin_keys,
    admin_staff,
    audit,
    cards,
    context,
    enrolment,
    errors,
    factor_setup,
    residents,
    search,
    second_factor,
    sessions,
    signin,
    sso,
)
