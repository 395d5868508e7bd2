"""The `cardservice` command: Flask's CLI (run, db, shell) plus the city's own commands.

Errors are printed as one clear line on stderr with a non-zero exit code, never a traceback:
1 for a refused action (domain error), 2 for bad usage or configuration.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def service_command(fn: F) -> F:
    """Run in the app context; turn domain errors into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .extensions import db
        from .services import ServiceError

        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            db.session.rollback()
            details = getattr(exc, "errors", None)
            if details:
                message = "; ".join(f"{field}: {msg}" for field, msg in details.items())
            else:
                message = str(exc.message)
            _fail(message)

    return wrapper  # type: ignore[return-value]


def _ctx() -> tuple[Any, Any]:
    from .extensions import db
    from .services import deps

    return db.session, deps()


def _now() -> datetime:
    return datetime.now(UTC)


def _system(command: str) -> Any:
    from .services import Actor

    return Actor.system(command)


# -- city -------------------------------------------------------------------------------------


@click.command("init-city")
@click.option("--code", required=True, help='UN/LOCODE of the city, e.g. "FR SXB".')
@click.option(
    "--name",
    "names",
    required=True,
    multiple=True,
    help='City name; repeat as "fr=Strasbourg" to give names per language.',
)
@service_command
def init_city_command(code: str, names: tuple[str, ...]) -> None:
    """Create the city: root key, first signing key, first status list (never overwrites)."""
    from .services.keys import init_city, root_fingerprint

    session, deps = _ctx()
    by_language: dict[str, str] = {}
    for entry in names:
        language, sep, name = entry.partition("=")
        if sep and 2 <= len(language) <= 8 and language.isalpha():
            by_language[language.lower()] = name
        else:
            by_language.setdefault(current_app.config.get("BABEL_DEFAULT_LOCALE", "en"), entry)
    init_city(session, deps, code=code, names=by_language, now=_now(), actor=_system("init-city"))
    click.echo(f"City {code.strip().upper()} created.")
    click.echo(f"Root key fingerprint (give it to partner cities): {root_fingerprint(session)}")


# -- users and tokens -------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["clerk", "supervisor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--language", default=None, help="Preferred UI language (fr, en, es, pt, ar).")
@service_command
def users_create(username: str, role: str, password_stdin: bool, language: str | None) -> None:
    """Create a staff account."""
    from .services.staff import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    session, _ = _ctx()
    user = create_user(
        session,
        username=username,
        password=password,
        role=role,
        now=_now(),
        actor=_system("users-create"),
        preferred_language=language,
    )
    click.echo(f"User {user.username} ({user.role}) created.")


@users_group.command("reset-mfa")
@click.argument("username")
@service_command
def users_reset_mfa(username: str) -> None:
    """Remove every second factor of an account (lost phone or key); it sets one up again at
    its next sign-in. Check who is asking first: this undoes the account's second factor."""
    from .services.mfa import reset_mfa

    session, _ = _ctx()
    user = reset_mfa(session, username=username, now=_now(), actor=_system("users-reset-mfa"))
    click.echo(f"Second factors of {user.username} removed: they set one up at next sign-in.")


@users_group.command("list")
@service_command
def users_list() -> None:
    """List staff accounts."""
    from .services.staff import list_users

    session, _ = _ctx()
    for user in list_users(session):
        state = "active" if user.active else "disabled"
        locked = " locked" if user.locked_until and user.locked_until > _now() else ""
        click.echo(f"{user.username}\t{user.role}\t{state}{locked}")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["clerk", "supervisor", "admin"]),
    default="clerk",
    show_default=True,
)
@service_command
def tokens_create(name: str, role: str) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from .services.staff import create_token

    session, _ = _ctx()
    created = create_token(session, name=name, role=role, now=_now(), actor=_system("tokens"))
    click.echo(created.token)


@tokens_group.command("revoke")
@click.argument("name")
@service_command
def tokens_revoke(name: str) -> None:
    """Revoke an API token by name."""
    from .services.staff import revoke_token

    session, _ = _ctx()
    revoke_token(session, name=name, now=_now(), actor=_system("tokens"))
    click.echo(f"Token {name} revoked.")


# -- keys -------------------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Root and signing keys; residents' data keys (rewrap, sweep)."""


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


@keys_group.command("list")
@service_command
def keys_list() -> None:
    """List signing keys with their state."""
    from .services.keys import expiry_warning, get_city, list_keys

    session, _ = _ctx()
    get_city(session)
    click.echo("KID               STATE    NOT BEFORE            NOT AFTER             RETIRED")
    for key in list_keys(session):
        click.echo(
            f"{key.kid}  {key.state:<8} {_fmt(key.not_before):<21} {_fmt(key.not_after):<21} "
            f"{_fmt(key.retired_at if key.state == 'retired' else key.revoked_at)}"
        )
    ends = expiry_warning(session, now=_now())
    if ends is not None:
        click.echo(
            f"Warning: the active key ends {_fmt(ends)}; the first signature within a day of "
            "that rotates it. Run `keys rotate` at a quiet time so partners sync first.",
            err=True,
        )


@keys_group.command("rotate")
@service_command
def keys_rotate() -> None:
    """Create a new active signing key; the current one retires (its cards stay valid)."""
    from .services.keys import rotate_signing_key

    session, deps = _ctx()
    info = rotate_signing_key(session, deps, now=_now(), actor=_system("keys-rotate"))
    click.echo(f"New active signing key {info.kid}.")


@keys_group.command("revoke")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@service_command
def keys_revoke(kid: str, yes: bool) -> None:
    """Revoke a compromised signing key: every card it signed stops verifying."""
    from sqlalchemy import select

    from .models import Card
    from .services.keys import revoke_signing_key

    session, deps = _ctx()
    now = _now()
    # Revoked or expired cards need nothing; every other card whose printed token this key
    # signed fails as key_revoked at every partner after its next sync, so it must be reissued.
    to_reissue = list(
        session.scalars(
            select(Card.number)
            .where(
                Card.kid == kid.strip().lower().replace(" ", ""),
                Card.status != "revoked",
                Card.expires_at > now,
            )
            .order_by(Card.number)
        )
    )
    affected = len(to_reissue)
    if not yes:
        click.confirm(
            f"Revoke key {kid}? {affected} card(s) signed with it will fail until reprinted.",
            abort=True,
        )
    info = revoke_signing_key(session, deps, kid=kid, now=now, actor=_system("keys-revoke"))
    click.echo(f"Key {info.kid} revoked; {affected} card(s) need a reprint.")
    if to_reissue:
        click.echo("Cards to reissue (reprint each at the counter: same number, new signature):")
        for number in to_reissue:
            click.echo(f"  {number}")


@keys_group.command("rotate-root")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@service_command
def keys_rotate_root(yes: bool) -> None:
    """Replace the root key; the old root endorses the new one (partners follow the chain)."""
    from .services.keys import rotate_root_key

    session, deps = _ctx()
    if not yes:
        click.confirm(
            "Replace the root key? The current root signs an endorsement of the new one, "
            "then its private key is destroyed.",
            abort=True,
        )
    new_fingerprint = rotate_root_key(session, deps, now=_now(), actor=_system("keys-rotate-root"))
    click.echo(f"New root key fingerprint: {new_fingerprint}")
    click.echo(
        "Partners need not do anything: the published metadata carries the endorsement chain "
        "from every earlier root. Give the new fingerprint to cities that pin you from now on."
    )


@keys_group.command("reencrypt")
@service_command
def keys_reencrypt() -> None:
    """Re-encrypt the stored root and signing keys with the current key derivation (argon2id).

    For keys written before it (PKCS#8, PBKDF2): one transaction, audited; safe to re-run.
    """
    from .services.keys import reencrypt_keys

    session, deps = _ctx()
    count = reencrypt_keys(session, deps, now=_now(), actor=_system("keys-reencrypt"))
    click.echo(f"{count} key(s) re-encrypted.")


@keys_group.command("rewrap")
@service_command
def keys_rewrap() -> None:
    """After a master-key rotation, re-wrap residents' data keys under the new master key.

    Set the new key as CARDSERVICE_MASTER_KEY and the old one in
    CARDSERVICE_PREVIOUS_MASTER_KEYS, run this, then remove the old key.
    """
    from .services.residents import rewrap_data_keys

    session, deps = _ctx()
    count = rewrap_data_keys(session, deps, now=_now(), actor=_system("keys-rewrap"))
    click.echo(f"{count} data key(s) re-wrapped under master key {deps.cipher.provider.key_id}.")


@keys_group.command("sweep")
@service_command
def keys_sweep() -> None:
    """Remove leftovers of interrupted writes between the resident database and the key store.

    Records whose data key is gone (an erasure that stopped after destroying the key) are
    deleted; data keys with no record, older than an hour (an enrolment that stopped after
    writing the key), are deleted. `cardservice purge` runs it too.
    """
    session, deps = _ctx()
    _echo_sweep(_sweep(session, deps, "keys-sweep"))


def _sweep(session: Any, deps: Any, command: str) -> Any:
    from .services.residents import sweep_orphans

    return sweep_orphans(session, deps, now=_now(), actor=_system(command))


def _echo_sweep(result: Any) -> None:
    click.echo(
        f"Sweep: {result.records} unreadable record(s) without a data key and "
        f"{result.keys} data key(s) without a record removed."
    )


@keys_group.command("fingerprint")
@service_command
def keys_fingerprint() -> None:
    """Print the root key fingerprint that partner cities pin."""
    from .services.keys import root_fingerprint

    session, _ = _ctx()
    click.echo(root_fingerprint(session))


# -- cards ------------------------------------------------------------------------------------


@click.group("cards")
def cards_group() -> None:
    """Card printing."""


@cards_group.command("print-batch")
@click.option(
    "--since",
    "since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Print the valid cards issued on or after this date (YYYY-MM-DD, UTC).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The PDF file to write.",
)
@click.option(
    "--layout",
    type=click.Choice(["a4", "card"]),
    default="a4",
    show_default=True,
    help="a4: four cards per sheet for office printers; card: CR80 pages for card printers.",
)
@service_command
def cards_print_batch(since: datetime, out_path: str, layout: str) -> None:
    """Print cards issued since a date into one PDF, streaming (memory stays flat)."""
    from .printing import render_batch
    from .services.cards import cards_issued_since, print_batch

    session, deps = _ctx()
    now = _now()
    numbers = cards_issued_since(session, since.replace(tzinfo=UTC), now=now)
    if not numbers:
        click.echo("No card to print.")
        return
    cards = print_batch(session, deps, numbers, now=now, actor=_system("print-batch"))
    with (
        open(out_path, "wb") as out,
        click.progressbar(length=len(numbers), label="Printing cards", file=sys.stderr) as bar,
    ):
        count = render_batch(
            cards,
            out,
            layout="card" if layout == "card" else "a4",
            progress=lambda _n: bar.update(1),
        )
    click.echo(f"{count} card(s) written to {out_path}.")


# -- retention --------------------------------------------------------------------------------


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what the retention policy would erase.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--all-residents",
    is_flag=True,
    help="Emergency purge: erase EVERY resident record now (cards stay verifiable).",
)
@click.option("--confirm", default=None, help="With --all-residents: the city code, typed out.")
@service_command
def purge_command(dry_run: bool, yes: bool, all_residents: bool, confirm: str | None) -> None:
    """Erase residents past the retention period (or, with --all-residents, everyone)."""
    from .services.keys import get_city
    from .services.residents import purge_all_residents, purge_expired, retention_candidates

    session, deps = _ctx()
    now = _now()
    if all_residents:
        city = get_city(session)
        if dry_run:
            from sqlalchemy import func, select

            from .models import Resident

            total = session.scalar(select(func.count()).select_from(Resident))
            click.echo(f"{total} resident record(s) would be erased.")
            return
        if confirm is None:
            _fail(f'--all-residents needs --confirm "{city.code}"', 2)
        erased = purge_all_residents(
            session,
            deps,
            city_code=city.code,
            confirm=str(confirm),
            now=now,
            actor=_system("purge-all"),
        )
        click.echo(
            f"{erased} resident record(s) erased. Issued cards stay valid until they expire."
        )
        return
    candidates = retention_candidates(session, deps, now=now)
    click.echo(
        f"{len(candidates)} resident record(s) past retention "
        f"({deps.policy.retention_months} months after the last card expired)."
    )
    for candidate in candidates:
        click.echo(
            f"  resident {candidate.resident_id}  last card expired {_fmt(candidate.last_expiry)}"
        )
    if dry_run:
        return
    if candidates:
        if not yes:
            click.confirm("Erase these records for good?", abort=True)
        erased = purge_expired(session, deps, now=now, actor=_system("purge"))
        click.echo(f"{erased} resident record(s) erased.")
    # Finishes erasures interrupted between the key store and the resident database.
    _echo_sweep(_sweep(session, deps, "purge"))


# -- audit ------------------------------------------------------------------------------------


@click.group("status")
def status_group() -> None:
    """The published status lists."""


def _indices(indices: tuple[int, ...], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


@status_group.command("check")
@service_command
def status_check() -> None:
    """Compare every published status-list token, and every list, with the cards' statuses.

    Exits 1 naming each list that differs, with counts and status indices (never a card number
    or a name).
    """
    from .services.statuscheck import check_status_lists

    session, _ = _ctx()
    result = check_status_lists(session)
    session.rollback()
    for check in result.lists:
        if check.ok:
            state = "published token matches the cards" if check.published else "not published yet"
            click.echo(f"status list {check.list_id}: ok ({state})")
            continue
        if check.token_problem is not None:
            click.echo(
                f"status list {check.list_id}: the published token does not verify "
                f"({check.token_problem})",
                err=True,
            )
        if check.token_differences:
            click.echo(
                f"status list {check.list_id}: {len(check.token_differences)} difference(s) "
                f"between the published token and the cards (status indices "
                f"{_indices(check.token_differences)})",
                err=True,
            )
        if check.list_differences:
            click.echo(
                f"status list {check.list_id}: {len(check.list_differences)} difference(s) "
                f"between the stored list and the cards (status indices "
                f"{_indices(check.list_differences)})",
                err=True,
            )
    if not result.ok:
        _fail(
            "published status differs from the database in list(s) "
            + ", ".join(str(i) for i in result.mismatched)
        )
    click.echo(f"{len(result.lists)} status list(s) consistent with the cards.")


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="An earlier `audit export` kept out of the database's reach: its last entry must "
    "still be in the chain, unchanged (catches a chain rewritten from start to end).",
)
@service_command
def audit_verify(anchor_path: str | None) -> None:
    """Check the hash chain: finds edited, inserted or deleted entries."""
    from .models import AuditEntry
    from .services.audit import ChainProblem, verify_chain

    session, _ = _ctx()
    problems = verify_chain(session)
    if anchor_path is not None:
        import json

        last = None
        with open(anchor_path, encoding="utf-8") as anchor:
            for line in anchor:
                if line.strip():
                    last = line
        try:
            # Indexing None (an empty file) raises the TypeError handled below.
            anchored: Any = json.loads(last) if last else None
            anchor_id, anchor_hash = int(anchored["id"]), str(anchored["hash"])
        except (TypeError, ValueError, KeyError):
            _fail(f"{anchor_path} is not an audit export", 2)
            return
        # One hash commits to every entry before it: if the anchored entry is still there with
        # the same hash and the chain verifies, everything up to the anchor is as exported.
        entry = session.get(AuditEntry, anchor_id)
        if entry is None or entry.hash != anchor_hash:
            problems.append(ChainProblem(anchor_id, "anchor_mismatch"))
    if problems:
        for problem in problems:
            where = f"entry {problem.entry_id}" if problem.entry_id else "chain head"
            click.echo(f"{where}: {problem.problem}", err=True)
        _fail("the audit log was tampered with or damaged")
    click.echo("Audit log intact.")


@audit_group.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True))
@service_command
def audit_export(out_path: str) -> None:
    """Write the whole audit log as JSON lines (with hashes, so the copy can be verified)."""
    import json

    from .services.audit import iter_entries

    session, _ = _ctx()
    count = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for entry in iter_entries(session):
            record = {
                "id": entry.id,
                "at": entry.at.isoformat(timespec="microseconds"),
                "actor": entry.actor,
                "action": entry.action,
                "card_number": entry.card_number,
                "subject": entry.subject,
                "detail": entry.detail,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    click.echo(f"{count} audit entries written to {out_path}.")


def register_commands(app: Flask) -> None:
    for command in (
        init_city_command,
        users_group,
        tokens_group,
        keys_group,
        cards_group,
        purge_command,
        audit_group,
        status_group,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from . import create_app

    try:
        return create_app()
    except ConfigError as exc:
        _fail(str(exc), 2)
        raise  # unreachable: _fail exits


cli = FlaskGroup(
    name="cardservice",
    create_app=_create_app,
    add_version_option=False,
    help="The city's card issuance service.",
)


def main() -> None:
    cli.main(prog_name="cardservice")


if __name__ == "__main__":  # pragma: no cover
    main()
