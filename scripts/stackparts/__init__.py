"""The reference stack's parts, by concern; scripts/stack.py puts them together and is what the
other scripts, the tests and bench/ import."""
