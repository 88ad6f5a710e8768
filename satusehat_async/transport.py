"""Moved to :mod:`satusehat_async.http` (the request stages); importable from here as before.

:class:`Transport` is :mod:`satusehat_async.http.transport`'s, :class:`Response`
:mod:`satusehat_async.http.response`'s, :func:`transport_error` the aiohttp backend's.
"""

from __future__ import annotations

from satusehat_async.http.aiohttp_backend import transport_error
from satusehat_async.http.response import Response
from satusehat_async.http.transport import Transport
from satusehat_async.params import Params, ParamValue, encode_params

__all__ = ["ParamValue", "Params", "Response", "Transport", "encode_params", "transport_error"]
