"""`/api/departments`: the units work orders are dispatched to (承办单位)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import CurrentUser, SessionDep, require
from api.models.staff import DepartmentCreate, DepartmentPublic, DepartmentUpdate
from api.routes.params import MAX_INT
from api.services import staff
from api.services.audit import Principal

router = APIRouter(prefix="/api/departments", tags=["staff"])

Admin = Annotated[Principal, Depends(require("departments"))]


@router.get("", response_model=list[DepartmentPublic])
def list_departments(session: SessionDep, _user: CurrentUser) -> list[DepartmentPublic]:
    return [DepartmentPublic.model_validate(d) for d in staff.list_departments(session)]


@router.post("", response_model=DepartmentPublic, status_code=201, responses={409: {"description": "Exists"}})
def create_department(data: DepartmentCreate, session: SessionDep, admin: Admin) -> DepartmentPublic:
    return DepartmentPublic.model_validate(staff.create_department(session, data=data, actor=admin))


@router.patch("/{department_id}", response_model=DepartmentPublic, responses={404: {"description": "No such unit"}})
def update_department(
    department_id: Annotated[int, Path(ge=1, le=MAX_INT)], data: DepartmentUpdate, session: SessionDep, admin: Admin
) -> DepartmentPublic:
    return DepartmentPublic.model_validate(
        staff.update_department(session, department_id=department_id, data=data, actor=admin)
    )
