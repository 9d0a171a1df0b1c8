"""The one error shape of the API: `{"error": {"code", "message"}}`, message in Chinese and English."""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

log = logging.getLogger("hotline.errors")

MESSAGES: dict[str, str] = {
    "invalid_json": "请求格式不正确，请发送 JSON。 / The request body is not valid JSON.",
    "validation_error": "提交的内容不完整或格式不对。 / Some fields are missing or invalid.",
    "empty_text": "消息不能为空，请输入您要说的话。 / The message text is empty.",
    "text_too_long": (
        "消息太长了，请分几次发送，每次不超过{limit}个字。 / The message is longer than {limit} characters."
    ),
    "unknown_channel": "不支持的渠道，只能是 web、sms 或 voice。 / Unknown channel; use web, sms or voice.",
    "invalid_turn_id": (
        "消息编号格式不对（1到64个字母、数字或 _ . : -）。 / turn_id must be 1-64 letters, digits, _ . : or -."
    ),
    "bad_request": "请求格式不正确，无法读取。 / The request could not be read.",
    "not_found": "没有找到您要的内容。 / Not found.",
    "method_not_allowed": "不支持这种请求方式。 / Method not allowed.",
    "unauthorized": "请先登录。 / Authentication required.",
    "forbidden": "您没有权限做这件事。 / You are not allowed to do this.",
    "rate_limited": "操作太频繁了，请稍后再试。 / Too many requests; please try again later.",
    "internal_error": "系统出了点问题，您的请求已记录，请稍后再试。 / Internal error; the request was recorded.",
}


class ApiError(Exception):
    """Raise from anywhere in a request to answer with the standard error shape."""

    def __init__(self, status_code: int, code: str, message: str | None = None, **fmt: Any) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message or MESSAGES.get(code, code).format(**fmt)
        super().__init__(self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
}


def _wants_page(request: Request) -> bool:
    """A person's browser outside the API gets a page, not JSON."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_page(message: str) -> str:
    chinese = html.escape(message.split(" / ", 1)[0])
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{chinese} · 残联服务热线</title></head>"
        f'<body><main><h1>{chinese}</h1><p><a href="/">回到首页，和智能助手对话</a></p>'
        '<p><a href="/staff/login">工作人员登录</a></p></main></body></html>'
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors())
        message = MESSAGES["validation_error"] + (f" ({fields})" if fields else "")
        return JSONResponse(error_body("validation_error", message), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = (
            exc.detail if isinstance(exc.detail, str) and code == "http_error" else MESSAGES.get(code, str(exc.detail))
        )
        if _wants_page(request):
            return HTMLResponse(_error_page(message), status_code=exc.status_code, headers=exc.headers)
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RecursionError)
    async def _too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return JSONResponse(error_body("invalid_json", MESSAGES["invalid_json"]), status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", MESSAGES["internal_error"]), status_code=500)
