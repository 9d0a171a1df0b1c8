"""Staff see how the citizen asked to be contacted, in bold, and the place in the citizen's own words,
before they pick up a phone (issue 20: a deaf citizen who asked for SMS must not be called)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import PASSWORD, Staff, new_ticket

pytestmark = pytest.mark.usefixtures("fast_argon2")


@pytest.mark.parametrize(
    "preference, label",
    [("sms", "短信"), ("call", "电话"), ("chat", "网上对话"), ("none", "不需要联系"), ("", "未说明")],
)
def test_the_work_order_page_shows_the_contact_preference_in_bold(
    client: TestClient, staff_as: Callable[..., Staff], preference: str, label: str
) -> None:
    place = "和平区南营门街道，西康路公交站"
    number = new_ticket(contact_preference=preference, location_text=place)
    page = staff_as("operator").get(f"/staff/tickets/{number}").text
    shown = re.search(r'<dt>联系方式偏好</dt><dd id="contact-preference">(.*?)</dd>', page)
    assert shown is not None and f"<strong>{label}</strong>" in shown.group(1)
    assert ("请不要打电话" in shown.group(1)) == (preference in ("sms", "chat", "none"))
    assert f"<dt>地点（市民原话）</dt><dd>{place}</dd>" in page


def test_the_api_gives_both_fields_and_masks_a_number_in_the_place(
    client: TestClient, staff_as: Callable[..., Staff]
) -> None:
    number = new_ticket(contact_preference="sms", location_text="西康路公交站，我的电话13912345678")

    def view_as(role: str) -> dict[str, str]:
        who = staff_as(role).username
        token = client.post("/api/auth/token", data={"username": who, "password": PASSWORD}).json()["access_token"]
        return dict(client.get(f"/api/tickets/{number}", headers={"Authorization": f"Bearer {token}"}).json())

    seen = view_as("supervisor")
    assert seen["contact_preference"] == "sms" and seen["location_text"] == "西康路公交站，我的电话13912345678"
    masked = view_as("auditor")  # where the contact phone is masked, so is a number in the place
    assert masked["contact_preference"] == "sms" and masked["contact_phone"] != "13800138000"
    assert masked["location_text"].startswith("西康路公交站") and "13912345678" not in masked["location_text"]
