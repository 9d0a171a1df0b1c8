"""Back-office error messages (Chinese / English) in the standard error shape of `api.errors`."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError

MESSAGES: dict[str, str] = {
    "bad_credentials": "用户名或密码不正确。 / Wrong username or password.",
    "account_locked": (
        "登录失败次数太多，账户已临时锁定，请{minutes}分钟后再试或联系管理员。"
        " / Too many failed logins; the account is locked for {minutes} minutes."
    ),
    "token_invalid": "登录已失效，请重新登录。 / The token is invalid or expired; please log in again.",
    "role_forbidden": "您的角色（{role}）不能做这件事，需要：{needed}。 / Role {role} may not do this; needs {needed}.",
    "ticket_not_found": "没有找到这个工单。 / No such work order.",
    "conversation_not_found": "没有找到这段对话。 / No such conversation.",
    "conversation_held": ("这段对话已由 {holder} 接手，请与其协调。 / {holder} already holds this conversation."),
    "conversation_not_held": "这段对话现在没有人接手。 / Nobody holds this conversation now.",
    "public_not_found": (
        "没有查到这个工单，请核对工单号和联系电话后四位。 / No work order matches this number and these phone digits."
    ),
    "stale_version": (
        "这个工单刚被别人修改过（当前版本 {current}，您提交的是 {given}），请刷新后再改。"
        " / The work order was changed by someone else (version {current}, you sent {given}); reload and retry."
    ),
    "illegal_transition": (
        "工单当前状态是“{status}”，不能“{action}”。现在可以：{allowed}。"
        " / A work order in status {status_en} cannot {action_code}; allowed: {allowed_codes}."
    ),
    "reason_required": "“{action}”需要填写原因。 / {action_code} needs a reason.",
    "department_required": "派单需要指定承办部门。 / Dispatch needs a department.",
    "department_not_found": "没有这个部门，或部门已停用。 / No such active department.",
    "assignee_not_found": "没有这个工作人员，或账户已停用。 / No such active staff member.",
    "reply_required": "答复需要填写给市民的答复内容。 / A reply needs the text for the citizen.",
    "deadline_passed": (
        "已经超过办理期限，不能再延期，请尽快办理并说明超期原因。"
        " / The deadline has passed; an extension is only possible before it."
    ),
    "too_many_extensions": (
        "这个工单已延期{count}次，不能再延期。 / Already extended {count} times; no more extensions."
    ),
    "extension_too_long": "延期最多{max}个工作日。 / An extension is at most {max} working days.",
    "close_unsatisfied": (
        "市民不满意时请选择“重办”，不能直接关闭。 / The citizen is not satisfied: reopen instead of closing."
    ),
    "numbers_exhausted": (
        "今天的工单号已用完，请联系管理员。 / Today's work-order numbers are exhausted; contact an administrator."
    ),
    "username_taken": "这个用户名已被使用。 / This username is already taken.",
    "department_exists": "部门代码或名称已存在。 / A department with this code or name exists.",
    "user_not_found": "没有这个工作人员账户。 / No such staff account.",
    "entry_not_found": "没有这条答复。 / No such answer entry.",
    "entry_not_draft": "这条答复已经审核或停用，请刷新页面。 / This entry is not a draft any more.",
    "entry_own_approval": "不能审核自己写的答复，请另一位值班主管审核。 / Entries are approved by someone else.",
    "bad_time_range": "开始时间必须早于结束时间。 / 'since' must be before 'until'.",
    "conflict": "数据冲突，请刷新后重试。 / Conflicting data; reload and retry.",
    "confidential_reason_required": ("解除保密需要填写原因。 / Lifting confidentiality needs a reason."),
    "department_move_forbidden": (
        "承办部门不能把工单改派给其他部门，如不属于本部门办理请退单。"
        " / A handling department cannot move a work order to another department; reject it instead."
    ),
    "last_admin": (
        "这是最后一个在用的管理员账户，不能降级或停用。请先为另一位同事开通管理员账户。"
        " / This is the last active administrator: it cannot be demoted or disabled; make another admin first."
    ),
    "login_throttled": (
        "这个地址登录失败次数太多，请{minutes}分钟后再试。"
        " / Too many failed logins from this address; try again in {minutes} minutes."
    ),
}


def problem(status_code: int, code: str, **fmt: Any) -> ApiError:
    """Build the ApiError for `code`, message filled from `fmt`."""
    return ApiError(status_code, code, MESSAGES[code].format(**fmt))
