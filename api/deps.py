"""Dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.db import get_session
from api.services.rasa_client import RasaClient
from api.settings import Settings, get_settings


def get_rasa(request: Request) -> RasaClient:
    client: RasaClient = request.app.state.rasa
    return client


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
