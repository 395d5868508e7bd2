"""``verifier networks``: the networks this verifier pinned, and how each partner is trusted.

verifier networks add --directory-url URL --fingerprint FP
verifier networks list
verifier networks remove CODE
"""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from .fetch import HttpFetcher
from .network_sync import NetworkPinError, NetworkReport, add_network, remove_network, sync_networks
from .networks import load_network
from .storefields import TrustStoreError
from .sync import sync_partners
from .trust import PartnerRecord, TrustStore
from .trust_index import LoadedPartner

# The app's trust store, clock and fetcher, for every trust command (commands.py too).


def app_store() -> TrustStore:
    store: TrustStore = current_app.extensions["verifier"].store
    return store


def app_now() -> datetime:
    now: datetime = current_app.config["CLOCK"]()
    return now


def app_fetcher() -> HttpFetcher:
    return HttpFetcher(
        timeout=current_app.config["SYNC_TIMEOUT"], retries=current_app.config["SYNC_RETRIES"]
    )


def when_text(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def print_network_report(report: NetworkReport) -> None:
    status = "ok" if report.ok else "FAILED"
    click.echo(
        f"network {report.code}: {status}, serial {report.serial}, {report.active} active, "
        f"{report.suspended} suspended member(s)"
    )
    if report.added:
        click.echo(f"  added: {', '.join(report.added)}")
    if report.removed:
        click.echo(f"  no longer listed (now unknown_issuer): {', '.join(report.removed)}")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    for error in report.errors:
        click.echo(f"  error: {error}", err=True)


def trusted_through(record: PartnerRecord, partner: LoadedPartner | None, now: datetime) -> str:
    """How a partner is trusted, for ``partners list``: directly and/or through which network."""
    parts = ["directly"] if record.direct else []
    for vouch in partner.vouches if partner is not None else ():
        if vouch.holds(now):
            parts.append(f"through network {vouch.network}")
        elif now >= vouch.expires_at:
            parts.append(f"network {vouch.network}: DIRECTORY EXPIRED (status_unknown)")
        else:
            parts.append(f"network {vouch.network}: {vouch.state.value.upper()} (never valid)")
    if not record.direct and partner is None:
        parts.append("through networks, but not trusted now (run verifier sync)")
    return "; ".join(parts)


@click.group("networks", cls=AppGroup)
def networks_group() -> None:
    """Networks of cities pinned by their coordinator's fingerprint."""


@networks_group.command("add")
@click.option(
    "--directory-url", required=True, help="The coordinator's /.well-known/citycard/network URL."
)
@click.option("--fingerprint", required=True, help="The network's root fingerprint, out of band.")
def networks_add(directory_url: str, fingerprint: str) -> None:
    """Pin a network after checking its directory against the fingerprint, then sync."""
    store, now, fetch = app_store(), app_now(), app_fetcher()
    try:
        record = add_network(
            store, directory_url=directory_url, pinned_fingerprint=fingerprint, now=now, fetch=fetch
        )
        workers = current_app.config["SYNC_WORKERS"]
        (report,) = sync_networks(store, now=now, fetch=fetch, codes=[record.code], workers=workers)
        partner_reports = sync_partners(
            store, now=now, fetch=fetch, codes=report.added, workers=workers
        )
    except (NetworkPinError, TrustStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Pinned network {record.code} ({record.fingerprint}).")
    print_network_report(report)
    failed = [r for r in partner_reports if not r.ok]
    for partner in failed:
        click.echo(f"  member {partner.code}: {'; '.join(partner.errors)}", err=True)
    if not report.ok or failed:
        sys.exit(1)


@networks_group.command("list")
def networks_list() -> None:
    """Each network's code, names, pin, serial, validity and members."""
    try:
        document = app_store().read_all()
    except TrustStoreError as exc:
        raise click.ClickException(str(exc)) from None
    if not document.networks:
        click.echo("No network is pinned. Add one with: verifier networks add")
        return
    now = app_now()
    for code in sorted(document.networks):
        record = document.networks[code]
        click.echo(code)
        click.echo(f"  directory:    {record.directory_url}")
        click.echo(f"  fingerprint:  {record.fingerprint}")
        click.echo(f"  last success: {when_text(record.last_success_at)}")
        if record.last_error:
            click.echo(f"  last error:   {record.last_error}")
        try:
            directory = load_network(record)
        except Exception:
            click.echo("  STORED DIRECTORY DOES NOT VERIFY: run verifier sync")
            continue
        names = ", ".join(f"{lang}: {name}" for lang, name in sorted(directory.names.items()))
        click.echo(f"  names:        {names}")
        flag = ""
        if directory.is_expired(now):
            flag = " EXPIRED (status_unknown for its members' cards)"
        elif directory.expires_soon(now):
            flag = " (expires soon)"
        click.echo(
            f"  serial:       {directory.serial}, issued {when_text(directory.issued_at)}, next "
            f"{when_text(directory.next_update)}, expires {when_text(directory.expires_at)}{flag}"
        )
        for member in directory.members:
            click.echo(
                f"  member {member.issuer}: {member.state.value} since {when_text(member.since)}"
            )


@networks_group.command("remove")
@click.argument("code")
def networks_remove(code: str) -> None:
    """Unpin a network: the cities only it vouched for become unknown_issuer."""
    try:
        record, dropped = remove_network(app_store(), code, now=app_now())
    except (NetworkPinError, TrustStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed network {record.code}.")
    if dropped:
        click.echo(f"No longer trusted (now unknown_issuer): {', '.join(dropped)}")
