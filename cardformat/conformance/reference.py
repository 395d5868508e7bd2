"""The reference implementation as a conformance-kit command:

    python -m cardformat.conformance -- python -m cardformat.conformance.reference

Reads one vector as the kit hands it over (docs/conformance.md) and prints the result code
cardformat reaches. It is also the worked example of an adapter for partners.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .. import (
    CardFormatError,
    KeyState,
    StatusList,
    TrustedKey,
    VerifiedStatusList,
    card_status,
    load_public_key,
    verify_card,
    verify_directory,
    verify_metadata,
    verify_status_list,
)
from ..network import load_signed_directory


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _required_time(text: str) -> datetime:
    moment = _time(text)
    assert moment is not None
    return moment


def trusted_keys(entries: list[Mapping[str, Any]]) -> dict[bytes, TrustedKey]:
    """The vectors' "keys" as a verifier's resolver holds them."""
    keys = {}
    for entry in entries:
        kid = bytes.fromhex(entry["kid"])
        keys[kid] = TrustedKey(
            kid=kid,
            public_key=load_public_key(bytes.fromhex(entry["public_key"])),
            issuer=entry["issuer"],
            state=KeyState(entry["state"]),
            retired_at=_time(entry["retired_at"]),
            not_before=_time(entry["not_before"]),
            not_after=_time(entry["not_after"]),
        )
    return keys


def _lists(context: Mapping[str, Any], issuer: str) -> dict[int, VerifiedStatusList]:
    lists = {}
    for entry in context["status_lists"]:
        lst = base64.urlsafe_b64decode(entry["lst"] + "=" * (-len(entry["lst"]) % 4))
        lists[entry["id"]] = VerifiedStatusList(
            issuer=issuer,
            uri="",
            status_list=StatusList.from_lst(lst, bits=entry["bits"]),
            issued_at=_required_time(entry["issued_at"]),
            expires_at=_time(entry["expires_at"]),
            ttl=None,
        )
    return lists


def answer(kind: str, data: bytes, context: Mapping[str, Any]) -> str:
    """The result code for one vector."""
    now = _required_time(context["now"])
    try:
        if kind == "metadata":
            meta = verify_metadata(
                data,
                pinned_fingerprint=context["pinned_fingerprint"],
                now=now,
                min_serial=context["min_serial"],
            )
            return "stale" if meta.is_stale(now) else "valid"
        if kind == "network":
            pinned = context["pinned_fingerprint"]
            previous = context["previous"]
            directory = verify_directory(
                data,
                pinned_fingerprint=pinned,
                now=now,
                previous=None
                if previous is None
                else load_signed_directory(bytes.fromhex(previous), pinned_fingerprint=pinned),
            )
            return "stale" if directory.is_late(now) else "valid"
        keys = trusted_keys(context["keys"])
        if kind == "status-list":
            verify_status_list(
                data,
                resolve_key=keys.get,
                now=now,
                expected_uri=context["expected_uri"],
                expected_size=context["expected_size"],
                min_issued_at=_time(context["stored_issued_at"]),
            )
            return "valid"
        card = verify_card(data.decode("utf-8"), resolve_key=keys.get, now=now)
        if kind == "card":
            return "valid"
        result, _ = card_status(
            card.card.status_index,
            size=context["status_list_size"],
            lists=_lists(context, card.issuer),
            now=now,
            max_age=timedelta(seconds=context["max_status_age_seconds"]),
        )
        return result
    except CardFormatError as exc:
        return exc.code


def main() -> int:
    with open(os.environ["CITYCARD_CONTEXT"], encoding="utf-8") as handle:
        context = json.load(handle)
    print(answer(os.environ["CITYCARD_KIND"], sys.stdin.buffer.read(), context))
    return 0


if __name__ == "__main__":
    sys.exit(main())
