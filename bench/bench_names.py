"""What the holder-name rule (docs/card-format.md section 3.2) costs per card.

Times ``cardformat.check_holder_name`` on names in several scripts and prints each as a ratio
to one Ed25519 signature check measured in the same run, the cost that dominates verifying a
card. Usage: .venv/bin/python bench/bench_names.py
"""

from __future__ import annotations

import timeit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardformat import check_holder_name

NAMES = {
    "ASCII": "Amina Diallo",
    "Han": "王秀英",
    "Vietnamese": "Nguyễn Thị Ánh",
    "Arabic": "محمد عبد الله الحسن",
    "Malayalam": "അരുൺ നായർ",
    "100 bytes, marks": "x\u0300\u0301\u0302\u0303" * 11,
}


def best(call: object, number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number  # type: ignore[arg-type]


def main() -> None:
    key = Ed25519PrivateKey.generate()
    public, signature = key.public_key(), key.sign(b"card")
    baseline = best(lambda: public.verify(signature, b"card"), 2_000)
    print(f"Ed25519 verify (baseline): {baseline * 1e6:.1f} us")
    for label, name in NAMES.items():
        cost = best(lambda name=name: check_holder_name(name), 20_000)
        print(f"{label:18} {cost * 1e6:6.2f} us  ratio {cost / baseline:.3f}")


if __name__ == "__main__":
    main()
