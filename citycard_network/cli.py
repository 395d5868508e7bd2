"""The ``citycard-network`` command (English, like the other operators' commands).

citycard-network init --code CODE --name [LANG=]NAME
citycard-network fingerprint
citycard-network members add --metadata-url URL --fingerprint FP [--reason TEXT]
citycard-network members suspend CODE --reason TEXT
citycard-network members reinstate CODE [--reason TEXT]
citycard-network members remove CODE --reason TEXT
citycard-network members list
citycard-network publish --out DIR [--next-update-days N] [--validity-days N]
citycard-network rotate-root
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from cardformat import Event, fingerprint
from cardformat.network import DEFAULT_UPDATE_INTERVAL, DEFAULT_VALIDITY

from . import service
from .config import ConfigError, Settings, load_settings
from .service import NetworkError, StateError
from .state import StateStore


def _now() -> datetime:
    return datetime.now(UTC)


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _settings() -> Settings:
    settings: Settings = click.get_current_context().ensure_object(dict)["settings"]
    return settings


def _store() -> StateStore:
    return StateStore(_settings().instance_path)


def _fetcher() -> service.Fetch:
    from webguard.fetch import HttpFetcher

    return HttpFetcher(timeout=10, retries=1)


class _Group(click.Group):
    """Turns the tool's own errors into one line for the operator, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (NetworkError, StateError) as exc:
            raise click.ClickException(str(exc)) from None
        except ConfigError as exc:
            click.echo(f"citycard-network: configuration error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The coordinator of a network of cities: its signed member directory."""
    ctx.ensure_object(dict)
    if "settings" not in ctx.obj:
        try:
            ctx.obj["settings"] = load_settings()
        except ConfigError as exc:
            click.echo(f"citycard-network: configuration error: {exc}", err=True)
            sys.exit(2)


def _names(values: tuple[str, ...]) -> dict[str, str]:
    names = {}
    for value in values:
        lang, sep, name = value.partition("=")
        if not sep:
            lang, name = "en", value
        if not lang.strip() or not name.strip():
            raise click.BadParameter(f"{value!r}: give LANG=NAME, e.g. en=Cities of the routes")
        names[lang.strip()] = name.strip()
    return names


@cli.command("init")
@click.option("--code", required=True, help="The network's code, e.g. MIGRATION-ROUTES.")
@click.option("--name", "names", required=True, multiple=True, help="[LANG=]NAME, repeatable.")
def init_command(code: str, names: tuple[str, ...]) -> None:
    """Create the network and its root key, sealed in the instance folder."""
    state = service.init_network(
        _store(), code=code, names=_names(names), passphrase=_settings().passphrase()
    )
    click.echo(f"Network {state.network} created in {_settings().instance_path}.")
    click.echo(f"Root key fingerprint: {fingerprint(state.root_key)}")
    click.echo("Give it to every verifier out of band; nothing is published until `publish`.")


@cli.command("fingerprint")
def fingerprint_command() -> None:
    """The network root's fingerprint, which verifiers pin (no passphrase needed)."""
    click.echo(fingerprint(_store().read().root_key))


@cli.group("members")
def members_group() -> None:
    """The network's members: admit, suspend, reinstate, remove, list."""


@members_group.command("add")
@click.option("--metadata-url", required=True, help="The city's /.well-known/citycard/issuer URL.")
@click.option(
    "--fingerprint", "fp", required=True, help="The city's root fingerprint, out of band."
)
@click.option("--reason", default="", help="Published in the history (optional).")
def members_add(metadata_url: str, fp: str, reason: str) -> None:
    """Admit a city after checking its metadata against its fingerprint."""
    member = service.add_member(
        _store(),
        metadata_url=metadata_url,
        pinned_fingerprint=fp,
        reason=reason,
        now=_now(),
        fetch=_fetcher(),
    )
    click.echo(
        f"Admitted {member.issuer} ({member.default_name}), root {fingerprint(member.root_key)}."
    )
    click.echo("Verifiers learn of it at the next `citycard-network publish`.")


def _change(code: str, event: Event, reason: str) -> None:
    member = service.change_member(_store(), code, event, reason=reason, now=_now())
    done = {Event.SUSPENDED: "Suspended", Event.REINSTATED: "Reinstated", Event.REMOVED: "Removed"}
    click.echo(f"{done[event]} {member.issuer if member else code.upper()}.")
    click.echo("Verifiers learn of it at the next `citycard-network publish`.")


@members_group.command("suspend")
@click.argument("code")
@click.option("--reason", required=True, help="Published in the history.")
def members_suspend(code: str, reason: str) -> None:
    """Suspend a member: its cards are never valid through this network until reinstated."""
    _change(code, Event.SUSPENDED, reason)


@members_group.command("reinstate")
@click.argument("code")
@click.option("--reason", default="", help="Published in the history (optional).")
def members_reinstate(code: str, reason: str) -> None:
    """Reinstate a suspended member."""
    _change(code, Event.REINSTATED, reason)


@members_group.command("remove")
@click.argument("code")
@click.option("--reason", required=True, help="Published in the history.")
def members_remove(code: str, reason: str) -> None:
    """Remove a member: verifiers stop trusting it through this network."""
    _change(code, Event.REMOVED, reason)


@members_group.command("list")
def members_list() -> None:
    """Each member's code, name, state and since when; then the publication's state."""
    state = _store().read()
    click.echo(f"{state.network}: {len(state.members)} member(s), last serial {state.serial}")
    for code in sorted(state.members, key=str.encode):
        member = state.members[code]
        click.echo(
            f"  {member.issuer}  {member.state.value:<9}  since {_when(member.since)}  "
            f"{member.default_name}  {member.metadata_url}"
        )
    click.echo(
        f"Published: {_when(state.published_at)}, expires {_when(state.published_expires_at)}"
    )
    warning = service.expiry_warning(state, _now())
    if warning:
        click.echo(f"warning: {warning}", err=True)


@cli.command("publish")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--next-update-days",
    type=click.IntRange(min=1),
    default=DEFAULT_UPDATE_INTERVAL.days,
    show_default=True,
    help="When verifiers should expect the next directory.",
)
@click.option(
    "--validity-days",
    type=click.IntRange(min=1, max=366),
    default=DEFAULT_VALIDITY.days,
    show_default=True,
    help="How long offline verifiers may rely on this directory.",
)
def publish_command(out: str, next_update_days: int, validity_days: int) -> None:
    """Sign the directory and write OUT/.well-known/citycard/network for a static web server."""
    from pathlib import Path

    publication = service.publish(
        _store(),
        out=Path(out),
        passphrase=_settings().passphrase(),
        now=_now(),
        update_interval=timedelta(days=next_update_days),
        validity=timedelta(days=validity_days),
    )
    directory = publication.directory
    click.echo(
        f"Published {directory.network} serial {directory.serial}: {len(directory.members)} "
        f"member(s), {publication.size} bytes, to {publication.path}"
    )
    click.echo(
        f"Next update due {_when(directory.next_update)}; expires {_when(directory.expires_at)}."
    )


@cli.command("rotate-root")
def rotate_root_command() -> None:
    """Replace the root key by a new one it endorses; publish afterwards."""
    new = service.rotate_root(_store(), passphrase=_settings().passphrase(), now=_now())
    click.echo(f"New root key fingerprint: {new}")
    click.echo("Verifiers that pinned an earlier root follow the endorsement: run `publish` now.")


def main() -> None:
    cli.main(prog_name="citycard-network")
