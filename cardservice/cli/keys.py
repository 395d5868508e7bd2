"""`cardservice keys`: signing keys, the root key, master-key re-wrapping, the key-store sweep."""

from __future__ import annotations

from typing import Any

import click

from .base import format_moment, now_utc, run_as, service_command, session_and_deps, system_actor


@click.group("keys")
def keys_group() -> None:
    """Root and signing keys; residents' data keys (rewrap, sweep)."""


@keys_group.command("list")
@service_command
def keys_list() -> None:
    """List signing keys with their state."""
    from ..services.keys import expiry_warning, get_city, list_keys

    session, _ = session_and_deps()
    get_city(session)
    click.echo("KID               STATE    NOT BEFORE            NOT AFTER             RETIRED")
    for key in list_keys(session):
        click.echo(
            f"{key.kid}  {key.state:<8} {format_moment(key.not_before):<21} "
            f"{format_moment(key.not_after):<21} "
            f"{format_moment(key.retired_at if key.state == 'retired' else key.revoked_at)}"
        )
    ends = expiry_warning(session, now=now_utc())
    if ends is not None:
        click.echo(
            f"Warning: the active key ends {format_moment(ends)}; the first signature within a "
            "day of that rotates it. Run `keys rotate` at a quiet time so partners sync first.",
            err=True,
        )


@keys_group.command("rotate")
@service_command
def keys_rotate() -> None:
    """Create a new active signing key; the current one retires (its cards stay valid)."""
    from ..services.keys import rotate_signing_key

    info = run_as("keys-rotate", rotate_signing_key)
    click.echo(f"New active signing key {info.kid}.")


@keys_group.command("revoke")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@service_command
def keys_revoke(kid: str, yes: bool) -> None:
    """Revoke a compromised signing key: every card it signed stops verifying."""
    from ..services.cards import cards_to_reissue
    from ..services.keys import normalise_kid, revoke_signing_key

    session, deps = session_and_deps()
    now = now_utc()
    to_reissue = cards_to_reissue(session, normalise_kid(kid), now=now)
    affected = len(to_reissue)
    if not yes:
        click.confirm(
            f"Revoke key {kid}? {affected} card(s) signed with it will fail until reprinted.",
            abort=True,
        )
    info = revoke_signing_key(session, deps, kid=kid, now=now, actor=system_actor("keys-revoke"))
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
    from ..services.keys import rotate_root_key

    if not yes:
        click.confirm(
            "Replace the root key? The current root signs an endorsement of the new one, "
            "then its private key is destroyed.",
            abort=True,
        )
    new_fingerprint = run_as("keys-rotate-root", rotate_root_key)
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
    from ..services.reencryption import reencrypt_keys

    count = run_as("keys-reencrypt", reencrypt_keys)
    click.echo(f"{count} key(s) re-encrypted.")


@keys_group.command("rewrap")
@service_command
def keys_rewrap() -> None:
    """After a master-key rotation, re-wrap residents' data keys under the new master key.

    Set the new key as CARDSERVICE_MASTER_KEY and the old one in
    CARDSERVICE_PREVIOUS_MASTER_KEYS, run this, then remove the old key.
    """
    from ..services.mfa import rewrap_totp_secrets
    from ..services.residents import rewrap_data_keys

    count = run_as("keys-rewrap", rewrap_data_keys)
    session, deps = session_and_deps()
    click.echo(f"{count} data key(s) re-wrapped under master key {deps.cipher.provider.key_id}.")
    # The staff's authenticator-app keys are sealed under the master key too (services.mfa).
    staff = rewrap_totp_secrets(session, deps)
    if staff:
        click.echo(f"{staff} authenticator key(s) of staff re-wrapped.")


@keys_group.command("sweep")
@service_command
def keys_sweep() -> None:
    """Remove leftovers of interrupted writes between the resident database and the key store.

    Records whose data key is gone (an erasure that stopped after destroying the key) are
    deleted; data keys with no record, older than an hour (an enrolment that stopped after
    writing the key), are deleted. `cardservice purge` runs it too.
    """
    session, deps = session_and_deps()
    echo_sweep(sweep(session, deps, "keys-sweep"))


def sweep(session: Any, deps: Any, command: str) -> Any:
    from ..services.residents import sweep_orphans

    return sweep_orphans(session, deps, now=now_utc(), actor=system_actor(command))


def echo_sweep(result: Any) -> None:
    click.echo(
        f"Sweep: {result.records} unreadable record(s) without a data key and "
        f"{result.keys} data key(s) without a record removed."
    )


@keys_group.command("fingerprint")
@service_command
def keys_fingerprint() -> None:
    """Print the root key fingerprint that partner cities pin."""
    from ..services.keys import root_fingerprint

    session, _ = session_and_deps()
    click.echo(root_fingerprint(session))
