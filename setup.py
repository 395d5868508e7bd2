"""The one build step pyproject.toml cannot declare stably: the base45 accelerator.

Everything else about the package is in pyproject.toml. The extension is optional: without a
C compiler the install still succeeds and cardformat decodes base45 in pure Python, only
slower (see cardformat/base45.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("cardformat._base45", ["cardformat/_base45.c"], optional=True)])
