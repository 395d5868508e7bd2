"""Every secret of the stack reaches its app as a file, as a city should give them: none is in
a server's environment, which other processes of the user and crash reports can read."""

from __future__ import annotations

from pathlib import Path

from scripts.stack import Stack


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {key: value for key, _, value in pairs}


def test_no_secret_is_in_a_servers_environment(stack: Stack) -> None:
    values = {
        path.read_text().strip() for path in (stack.folder / "secrets").iterdir() if path.is_file()
    }
    # The four of cardservice, the verifier's, and cardservice's client secret at the provider.
    assert len(values) == 6
    for name in stack.server_names:
        environment = _environment(stack.server_pid(name))
        secret_files = {key for key in environment if key.endswith("_FILE")}
        expected = (
            {"VERIFIER_SECRET_KEY_FILE"}
            if name == "verifier"
            else {
                "CARDSERVICE_SECRET_KEY_FILE",
                "CARDSERVICE_KEY_PASSPHRASE_FILE",
                "CARDSERVICE_MASTER_KEY_FILE",
                "CARDSERVICE_INDEX_KEY_FILE",
                "CARDSERVICE_OIDC_CLIENT_SECRET_FILE",
            }
        )
        assert expected <= secret_files, name
        assert "VERIFIER_SECRET_KEY" not in environment, name
        leaked = [key for key, value in environment.items() if value in values]
        assert not leaked, (name, leaked)
