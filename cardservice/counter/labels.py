"""Translated labels for the machine codes the services store (statuses, reasons, actions).

The database and the audit log keep stable codes, never free text, so what a supervisor reads
is translated at display time into their own language.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

STATUS_LABELS: dict[str, LazyString] = {
    "valid": _l("Valid"),
    "suspended": _l("Suspended"),
    "revoked": _l("Revoked"),
    "expired": _l("Expired"),
}

REASON_LABELS: dict[str, LazyString] = {
    "lost": _l("Lost"),
    "stolen": _l("Stolen"),
    "damaged": _l("Damaged"),
    "holder_request": _l("At the holder's request"),
    "deceased": _l("Holder deceased"),
    "fraud": _l("Fraud"),
    "superseded": _l("Replaced by a newer card"),
    "key_compromise": _l("Signing key compromised"),
    "investigation": _l("Under investigation"),
    "found_after_loss": _l("Found after being reported lost"),
    "other": _l("Other reason"),
    "possible_duplicate": _l("Possible duplicate flagged"),
    "retention": _l("Retention period over"),
}

ACTION_LABELS: dict[str, LazyString] = {
    "resident.enrol": _l("Resident enrolled"),
    "resident.update": _l("Resident record corrected"),
    "resident.view": _l("Resident record viewed"),
    "resident.search": _l("Residents searched by name and birth date"),
    "resident.erase": _l("Resident record deleted on request"),
    "resident.purge": _l("Resident record purged (retention period over)"),
    "resident.purge_all": _l("All resident records purged (emergency purge)"),
    "resident.reindex": _l("Search indexes of resident records recomputed"),
    "card.issue": _l("Card issued"),
    "card.print": _l("Card printed"),
    "card.reprint": _l("Card reprinted"),
    "card.renew": _l("Card renewed"),
    "card.replace": _l("Card replaced"),
    "card.suspend": _l("Card suspended"),
    "card.reinstate": _l("Card reinstated"),
    "card.revoke": _l("Card revoked"),
    "city.init": _l("City set up"),
    "key.create": _l("Signing key created"),
    "key.retire": _l("Signing key retired"),
    "key.revoke": _l("Signing key revoked"),
    "key.root_rotate": _l("Root key rotated"),
    "key.reencrypt": _l("Stored keys re-encrypted with the current key derivation"),
    "master_key.rewrap": _l("Data keys re-wrapped under the new master key"),
    "keystore.sweep": _l(
        "Leftovers of interrupted erasures removed (records without a data key, data keys "
        "without a record)"
    ),
    "user.create": _l("Staff account created"),
    "user.login": _l("Staff member signed in"),
    "user.lock": _l("Staff account locked after failed sign-ins"),
    "user.device_lock": _l("Staff member's browser locked after failed sign-ins"),
    "user.password": _l("Staff password changed"),
    "user.password_change": _l("Staff member changed their own password"),
    "user.mfa_add": _l("Second factor added"),
    "user.mfa_remove": _l("Second factor removed"),
    "user.mfa_reset": _l("Second factors reset by an administrator"),
    "user.recovery_codes": _l("New recovery codes made"),
    "user.language": _l("Staff language changed"),
    "user.activate": _l("Staff account reactivated"),
    "user.deactivate": _l("Staff account deactivated"),
    "session.end": _l("Staff session ended by an administrator"),
    "session.end_all": _l("Staff member signed out everywhere"),
    "session.end_own": _l("Staff member ended one of their sessions"),
    "session.end_user": _l("All sessions of a staff member ended by an administrator"),
    "session.end_everyone": _l("Every staff session ended by an administrator"),
    "user.sso_login": _l("Staff member signed in with single sign-on"),
    "user.sso_create": _l("Staff account created at first single sign-on"),
    "card.view": _l("Card looked up through the API"),
    "card.lookup_miss": _l("API card look-up found nothing"),
    "resident.lookup_miss": _l("API resident look-up found nothing"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
}

# What an audit entry's subject ("kind:id") names. The ids are random or technical (a resident
# record's random id, a staff account's number, a key id), never a person's data.
SUBJECT_KIND_LABELS: dict[str, LazyString] = {
    "resident": _l("Record"),
    "card": _l("Card"),
    "user": _l("Staff account"),
    "token": _l("API token"),
    "key": _l("Signing key"),
    "root": _l("Root key"),
}

KEY_STATE_LABELS: dict[str, LazyString] = {
    "active": _l("Active"),
    "retired": _l("Retired"),
    "revoked": _l("Revoked"),
}


def label(table: dict[str, LazyString], code: str | None) -> str:
    """The translated label of ``code``, or the code itself for one added after this table."""
    if code is None:
        return ""
    found = table.get(code)
    return str(found) if found is not None else code


def subject_label(subject: str | None) -> str:
    """An audit entry's subject as words and its id ("Record 3f9a..."), or as stored."""
    if not subject:
        return ""
    kind, _, ident = subject.partition(":")
    found = SUBJECT_KIND_LABELS.get(kind)
    return f"{found} {ident}" if found is not None and ident else subject


DOCUMENT_KIND_LABELS: dict[str, LazyString] = {
    "identity": _l("Identity"),
    "residence": _l("Residence in the city"),
}


def shortfall_message(points: dict[str, int] | None, minimums: dict[str, int] | None) -> str:
    """Which document categories are short, with their points: "Not enough points for
    Residence in the city (1 of 2)." The same words as the live meter on the form."""
    short = [
        _l(
            "%(kind)s (%(points)d of %(minimum)d)",
            kind=label(DOCUMENT_KIND_LABELS, kind),
            points=(points or {}).get(kind, 0),
            minimum=minimum,
        )
        for kind, minimum in (minimums or {}).items()
        if (points or {}).get(kind, 0) < minimum
    ]
    if not short:
        return str(_l("The documents shown do not reach the policy's minimum points."))
    return str(_l("Not enough points for %(kinds)s.", kinds=", ".join(str(s) for s in short)))
