"""Package discovery; the metadata is in setup.cfg.

``problems/`` and ``engines/`` install as ``e2eaug.problems`` and ``e2eaug.engines``; every
package below the three roots is found, none is listed by hand.
"""

from setuptools import find_packages, setup

MAPPED = {"e2eaug.problems": "problems", "e2eaug.engines": "engines"}

packages = find_packages(include=["e2eaug", "e2eaug.*"])
for name, folder in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=MAPPED)
