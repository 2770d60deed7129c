"""Pages for people: the control-room console, rendered on the server.

Same keys and roles as the API; a browser keeps its sign-in in a cookie (sign-in itself
is :mod:`ioc.api.signin`). Each part of the console is its own module; this one only
lists their routers for the app, in the order they are matched:

- :mod:`console_wall`: ``/ui/``, the wall (inbox, map, KPI tiles), where sign-in lands;
- :mod:`console_alerts`: ``/ui/alerts`` and ``/ui/alerts/{id}``, acknowledge, resolve;
- :mod:`console_devices`: ``/ui/devices``, ``/ui/devices/{id}``, ``/ui/districts/{district}``;
- :mod:`console_incident_pages`: ``/ui/incidents`` and ``/ui/incidents/{id}``;
- :mod:`routes.console`: the data and the event stream behind the live parts;
- :mod:`console_docs`: ``/docs`` and ``/redoc``, offline.
"""

from __future__ import annotations

from fastapi import APIRouter

from ioc.api import (
    console_alerts,
    console_devices,
    console_docs,
    console_incident_pages,
    console_wall,
)
from ioc.api.routes import console as console_data

routers: tuple[APIRouter, ...] = (
    console_wall.router,
    console_alerts.router,
    console_devices.router,
    console_incident_pages.router,
    console_data.router,
    console_docs.router,
)
