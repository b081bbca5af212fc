"""Offline assets for maps: Leaflet's JavaScript and CSS, read from an installed package.

Leaflet is not copied into this repository. It comes from the PyPI package
``django-js-lib-leaflet`` (import name ``js_lib_leaflet``; Leaflet 1.9.4, BSD-2, pure
static files, no Django needed at run time), installed as a dependency of ictplan. The
CSS's images (layer-control icon, default marker) are inlined as ``data:`` URIs so a saved
map has no external reference at all.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources

from ._errors import DataSourceError

__all__ = ["LEAFLET_PACKAGE", "leaflet_js", "leaflet_css", "leaflet_version", "inline_head"]

LEAFLET_PACKAGE = "django-js-lib-leaflet"
_MODULE = "js_lib_leaflet"
_STATIC = "static/js_lib_leaflet"


def _static():
    try:
        return resources.files(_MODULE).joinpath(_STATIC)
    except ModuleNotFoundError as err:
        msg = (
            f"Leaflet's JavaScript is missing: the package {LEAFLET_PACKAGE!r} is not installed "
            f"(import name {_MODULE!r}). Install it with `pip install {LEAFLET_PACKAGE}` "
            "(it is a dependency of ictplan, so `pip install -e .` also does it)."
        )
        raise DataSourceError(msg) from err


@functools.cache
def leaflet_js() -> str:
    """Leaflet's minified JavaScript, as text."""
    return _static().joinpath("leaflet.js").read_text(encoding="utf-8")


@functools.cache
def leaflet_css() -> str:
    """Leaflet's CSS with every ``url(images/...)`` replaced by a ``data:`` URI."""
    static = _static()
    css = static.joinpath("leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        name = match.group(1)
        data = static.joinpath("images", name).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    return re.sub(r"url\(images/([A-Za-z0-9_.-]+\.png)\)", inline, css)


@functools.cache
def leaflet_version() -> str:
    """Leaflet's version as stated in its own file (e.g. ``"1.9.4"``)."""
    m = re.search(r"Leaflet\s+([0-9]+\.[0-9]+\.[0-9]+)", leaflet_js()[:400])
    return m.group(1) if m else "unknown"


def _safe_script(js: str) -> str:
    # an inline script ends at the first "</script"; Leaflet has none, but be sure
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)


def inline_head() -> str:
    """``<style>`` + ``<script>`` elements holding Leaflet, for a page's ``<head>``."""
    return (
        f"<style>/* Leaflet {leaflet_version()} from {LEAFLET_PACKAGE} */\n{leaflet_css()}</style>\n"
        f"<script>/* Leaflet {leaflet_version()} from {LEAFLET_PACKAGE} */\n{_safe_script(leaflet_js())}</script>"
    )
