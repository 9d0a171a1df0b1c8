"""`hotline user …`: create staff accounts and the first administrator from the command line."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from api.db import new_session
from api.errors import ApiError
from api.models.staff import StaffRole, StaffUserCreate
from api.services import staff
from api.settings import get_settings

user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: str = typer.Argument(..., help="Login name: 3-32 lowercase letters, digits, . _ -"),
    role: StaffRole = typer.Option(StaffRole.operator, help="operator, supervisor, auditor or admin"),
    full_name: str = typer.Option("", help="Name shown in the console"),
    department_id: int | None = typer.Option(None, help="Department for department staff"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, envvar="HOTLINE_NEW_USER_PASSWORD"
    ),
) -> None:
    """Create a staff account (asks for the password unless HOTLINE_NEW_USER_PASSWORD is set)."""
    try:
        data = StaffUserCreate(
            username=username, role=role, full_name=full_name, department_id=department_id, password=password
        )
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    with new_session() as session:
        try:
            user = staff.create_user(session, data=data, actor="cli:user-create")
        except ApiError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from None
    typer.echo(f"已创建 / created: {user.username} ({user.role.value})")


@user_app.command("ensure-admin")
def user_ensure_admin() -> None:
    """Create the first admin from HOTLINE_ADMIN_USERNAME / HOTLINE_ADMIN_PASSWORD unless an admin exists.

    Without a password one is generated and printed once. Running it again changes nothing.
    """
    settings = get_settings()
    with new_session() as session:
        try:
            user, generated = staff.ensure_admin(
                session, username=settings.admin_username, password=settings.admin_password
            )
        except (ApiError, ValidationError) as exc:
            typer.echo(f"cannot create the admin: {exc}", err=True)
            raise typer.Exit(1) from None
    if generated is None:
        typer.echo(f"管理员已存在 / admin present: {user.username}")
        return
    typer.echo(f"已创建管理员 / admin created: {user.username}")
    typer.echo(f"初始密码（只显示这一次） / initial password (shown once): {generated}")


@user_app.command("service-token")
def user_service_token() -> None:
    """Print the action server's service token (HOTLINE_SERVICE_TOKEN, or the one kept in data_dir)."""
    typer.echo(get_settings().effective_service_token)
