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
    """Make sure an active admin exists: HOTLINE_ADMIN_USERNAME / HOTLINE_ADMIN_PASSWORD, unless one does.

    Without a password one is generated and printed once. Running it again changes nothing.
    If no active admin is left but the account HOTLINE_ADMIN_USERNAME exists (demoted or
    disabled), it is made an active admin again, with HOTLINE_ADMIN_PASSWORD if set (else
    its password is kept), and the command says so.
    """
    settings = get_settings()
    with new_session() as session:
        try:
            done = staff.ensure_admin(session, username=settings.admin_username, password=settings.admin_password)
        except (ApiError, ValidationError) as exc:
            typer.echo(f"cannot create the admin: {exc}", err=True)
            raise typer.Exit(1) from None
    name = done.user.username
    if done.restored:
        typer.echo(
            f"没有在用的管理员账户；已把账户 {name} 恢复为管理员。"
            f" / No active admin was left: the account {name} is an admin again."
        )
        if done.password_set:
            typer.echo("密码已设为 HOTLINE_ADMIN_PASSWORD。 / Its password is now HOTLINE_ADMIN_PASSWORD.")
        else:
            typer.echo(
                "密码没有改变；如已遗忘，请设置 HOTLINE_ADMIN_PASSWORD 后再运行本命令。"
                " / Its password is unchanged; if it is lost, set HOTLINE_ADMIN_PASSWORD and run this again."
            )
        return
    if not done.created:
        typer.echo(f"管理员已存在 / admin present: {name}")
        return
    typer.echo(f"已创建管理员 / admin created: {name}")
    if done.generated_password is not None:
        typer.echo(f"初始密码（只显示这一次） / initial password (shown once): {done.generated_password}")


@user_app.command("service-token")
def user_service_token() -> None:
    """Print the action server's service token (HOTLINE_SERVICE_TOKEN, or the one kept in data_dir)."""
    typer.echo(get_settings().effective_service_token)
