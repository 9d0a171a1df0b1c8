"""Report tests reuse the back-office fixtures (staff users, a department)."""

from __future__ import annotations

from tests.backoffice import conftest as backoffice

fast_argon2 = backoffice.fast_argon2
headers = backoffice.headers
service_headers = backoffice.service_headers
department = backoffice.department
