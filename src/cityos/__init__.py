"""cityos: a city OS (都市OS) a small municipality starts with one command.

Parts are laid out as docs/architecture.md shows: ngsi/, storage/, access/, personal/ …
"""

__version__ = "0.1.0"
