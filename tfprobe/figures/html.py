"""What the self-contained HTML pages share: the document around a page's body, images as inline PNG data
URIs, and file-safe page names.

The circuit explorer (:mod:`tfprobe.circuits.explorer`) and the unit atlas (:mod:`tfprobe.examples.atlas_page`)
put every image inside the page as a base64 PNG, so a page opens anywhere, offline; the atlas names its
pages after layers, and the explorer links to those pages by the same rule (:func:`file_safe`).
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import PIL.Image

from tfprobe.errors import InvalidValueError

__all__ = ["document", "file_safe", "png_uri"]

#: Characters a page name keeps; every other character becomes ``_``.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def document(title: str, style: str, body: str) -> str:
    """A complete self-contained HTML page: nothing in it is fetched, not even a favicon.

    Parameters
    ----------
    title : str
        The page's title (plain text, escaped here).
    style : str
        The CSS of the page, put in its ``<style>`` element.
    body : str
        The HTML inside ``<body>``.

    Returns
    -------
    str
        The page, from ``<!DOCTYPE html>`` to ``</html>``.
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # An empty icon: without it a browser asks the server for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def png_uri(image: np.ndarray) -> str:
    """A display image as a base64 PNG data URI.

    Parameters
    ----------
    image : ndarray (rows, columns) or (rows, columns, 3)
        Grayscale or RGB values in [0, 1] (written as 8-bit gray or RGB).

    Returns
    -------
    str
        ``data:image/png;base64,...``
    """
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.round(np.asarray(image) * 255.0).astype(np.uint8)).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_safe(name: str) -> str:
    """A name as a file name without a folder or characters a URL would need to escape.

    Letters, digits, ``-``, ``_`` and ``.`` are kept, everything else (``/`` of nested layers, ``@``,
    ``:``, spaces) becomes ``_``; a name of dots only gets a leading ``_``.

    Examples
    --------
    >>> file_safe("vgg16/block5_conv2")
    'vgg16_block5_conv2'
    """
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"a page is named after a non-empty name, got {name!r}")
    safe = "".join(c if c in _SAFE else "_" for c in name)
    return "_" + safe if set(safe) == {"."} else safe
