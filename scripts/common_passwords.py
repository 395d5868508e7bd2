"""Regenerate cardservice/services/data/common-passwords.txt, the list of common passwords that
services/passwords.py refuses.

Sources, both public and both from PyPI packages (no other download):
- Django's django/contrib/auth/common-passwords.txt.gz (BSD-3-Clause): 20,000 common passwords
  compiled by Royce Williams from breach corpora, lowercased. Get it with
  `pip download --no-deps django` and unzip that file from the wheel.
- zxcvbn's "passwords" frequency list (the `zxcvbn` package, MIT; from Xato's 10 million
  password corpus), already a dependency of this project.

Entries shorter than 8 characters are left out (no password that short is accepted anyway).

Usage: python scripts/common_passwords.py PATH/TO/common-passwords.txt.gz
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

TARGET = Path(__file__).resolve().parent.parent / "cardservice/services/data/common-passwords.txt"
MIN_LENGTH = 8


def main(django_list: str) -> None:
    with gzip.open(django_list, "rt", encoding="utf-8") as handle:
        words = {line.strip().lower() for line in handle}
    words.update(word.lower() for word in FREQUENCY_LISTS["passwords"])
    kept = sorted(word for word in words if len(word) >= MIN_LENGTH and word.isprintable())
    header = (
        "# Common passwords, lowercased, one a line (scripts/common_passwords.py).\n"
        "# From Django's common-passwords.txt.gz (BSD-3-Clause, list by Royce Williams) and\n"
        "# zxcvbn's passwords frequency list (MIT, from Xato's corpus).\n"
    )
    TARGET.write_text(header + "\n".join(kept) + "\n", encoding="utf-8")
    print(f"{len(kept)} passwords written to {TARGET}")


if __name__ == "__main__":
    main(sys.argv[1])
