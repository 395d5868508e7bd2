"""The verifier's trust commands, on the app's CLI (``app.cli``): ``verifier`` and tests share them.

    verifier partners add --metadata-url URL --fingerprint FP
    verifier partners list
    verifier partners remove CODE
    verifier networks add --directory-url URL --fingerprint FP
    verifier networks list
    verifier networks remove CODE
    verifier sync [--every SECONDS]

The app factory registers them; the console entry point is ``verifier/cli.py``, which imports
the factory (one way: nothing here imports the package root or the entry point).
Operator-facing output is English, like Flask's own commands; what agents see is translated.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .cli_networks import (
    app_fetcher,
    app_now,
    app_store,
    networks_group,
    print_network_report,
    trusted_through,
    when_text,
)
from .network_sync import listed_by_networks, sync_networks
from .storefields import TrustStoreError
from .sync import PartnerError, PartnerReport, add_partner, remove_partner, sync_partners
from .trust_index import TrustIndex
from .verification import is_stale

# A revocation reaches the agents at the next sync. Issuers re-sign a changed list at once and
# answer unchanged ones with 304, so a short interval costs them little; below a few seconds
# a sync could still be running when the next one starts. Production: docs/federation.md.
MIN_SYNC_INTERVAL = 5


def _print_report(report: PartnerReport) -> None:
    status = "ok" if report.ok else "FAILED"
    click.echo(
        f"{report.code}: {status}, serial {report.serial}, "
        f"{report.lists_updated}/{report.lists_total} status lists updated"
    )
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    for error in report.errors:
        click.echo(f"  error: {error}", err=True)


@click.group("partners", cls=AppGroup)
def partners_group() -> None:
    """Pinned partner cities (including this city's own issuer)."""


@partners_group.command("add")
@click.option("--metadata-url", required=True, help="The city's /.well-known/citycard/issuer URL.")
@click.option("--fingerprint", required=True, help="Root key fingerprint, exchanged out of band.")
def partners_add(metadata_url: str, fingerprint: str) -> None:
    """Pin a city after checking its metadata against the fingerprint, then sync it."""
    try:
        record, report = add_partner(
            app_store(),
            metadata_url=metadata_url,
            pinned_fingerprint=fingerprint,
            now=app_now(),
            fetch=app_fetcher(),
        )
    except (PartnerError, TrustStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Pinned {record.code} ({record.fingerprint}).")
    _print_report(report)
    if not report.ok:
        sys.exit(1)


@partners_group.command("list")
def partners_list() -> None:
    """Each city's code, name, keys, last successful sync and staleness."""
    store = app_store()
    try:
        records = store.read()
    except TrustStoreError as exc:
        raise click.ClickException(str(exc)) from None
    if not records:
        click.echo("No partner is pinned. Add one with: verifier partners add")
        return
    document = store.read_all()
    index = TrustIndex.build(document.partners, networks=document.networks)
    now = app_now()
    max_age = timedelta(seconds=current_app.config["MAX_STATUS_AGE"])
    for code in sorted(records):
        record = records[code]
        partner = index.partner(code)
        click.echo(f"{code}")
        click.echo(f"  trusted:      {trusted_through(record, index.partner(code), now)}")
        click.echo(f"  metadata:     {record.metadata_url}")
        click.echo(f"  fingerprint:  {record.fingerprint}")
        click.echo(f"  last success: {when_text(record.last_success_at)}")
        if record.last_error:
            click.echo(f"  last error:   {record.last_error}")
        if partner is None:
            click.echo("  STORED METADATA DOES NOT VERIFY: run verifier sync")
            continue
        meta = partner.metadata
        names = ", ".join(f"{lang}: {name}" for lang, name in sorted(meta.names.items()))
        click.echo(f"  names:        {names}")
        stale = " (STALE: past its ttl)" if meta.is_stale(now) else ""
        click.echo(f"  serial:       {meta.serial}, issued {when_text(meta.issued_at)}{stale}")
        for key in meta.keys:
            retired = f", retired {when_text(key.retired_at)}" if key.retired_at else ""
            click.echo(f"  key {key.kid.hex()}: {key.state.value}{retired}")
        for ref in meta.status_lists:
            listed = partner.status_lists.get(ref.id)
            if listed is None:
                click.echo(f"  status list {ref.id}: MISSING (status_unknown for its cards)")
                continue
            old = is_stale(listed.issued_at, listed.expires_at, now=now, max_status_age=max_age)
            flag = " STALE (status_unknown for its cards)" if old else ""
            click.echo(f"  status list {ref.id}: issued {when_text(listed.issued_at)}{flag}")
        for problem in partner.problems:
            click.echo(f"  problem: {problem}")


@partners_group.command("remove")
@click.argument("code")
def partners_remove(code: str) -> None:
    """Unpin a city: its cards become unknown_issuer on this verifier."""
    try:
        listed = listed_by_networks(app_store(), code)
        record = remove_partner(
            app_store(), code, network_root=listed.fingerprint if listed is not None else None
        )
    except (PartnerError, TrustStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed {record.code}.")


@click.command("sync")
@with_appcontext
@click.option(
    "--every",
    type=click.IntRange(min=MIN_SYNC_INTERVAL),
    default=None,
    help=(
        f"Keep running, syncing every SECONDS (at least {MIN_SYNC_INTERVAL}). "
        "Without it: sync once and exit."
    ),
)
def sync_command(every: int | None) -> None:
    """Fetch and verify every partner's metadata and status lists; report per partner.

    Exits non-zero when any partner failed (its last good copy is kept).
    """
    while True:
        try:
            network_reports = sync_networks(
                app_store(),
                now=app_now(),
                fetch=app_fetcher(),
                workers=current_app.config["SYNC_WORKERS"],
            )
            reports = sync_partners(
                app_store(),
                now=app_now(),
                fetch=app_fetcher(),
                workers=current_app.config["SYNC_WORKERS"],
            )
        except TrustStoreError as exc:
            if every is None:
                raise click.ClickException(str(exc)) from None
            # Running as a daemon: report and try again next time rather than stop syncing.
            click.echo(f"error: {exc}", err=True)
            time.sleep(every)
            continue
        if not reports and not network_reports:
            click.echo(
                "No partner is pinned. Add one with: verifier partners add "
                "(or a network: verifier networks add)"
            )
        for network_report in network_reports:
            print_network_report(network_report)
        for report in reports:
            _print_report(report)
        failed = [r.code for r in reports if not r.ok]
        failed += [f"network {r.code}" for r in network_reports if not r.ok]
        if every is None:
            if failed:
                what = "partners and networks" if network_reports else "partners"
                total = len(reports) + len(network_reports)
                click.echo(f"{len(failed)} of {total} {what} failed.", err=True)
                sys.exit(1)
            return
        time.sleep(every)


def register_commands(app: Flask) -> None:
    app.cli.add_command(partners_group)
    app.cli.add_command(networks_group)
    app.cli.add_command(sync_command)
