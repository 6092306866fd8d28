"""The web face of the archive: pages for people, a JSON API and Atom feeds for programs.

A thin layer over :class:`editions.api.Editions`, like the CLI: every view asks
the API, and the JSON API answers exactly what the CLI's ``--json`` prints.
"""

from editions.web.app import create_app

__all__ = ["create_app"]
