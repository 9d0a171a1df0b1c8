"""The knowledge endpoint the assistant's actions call."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.knowledge import list_unanswered


def test_ask_answers_with_citation(client: TestClient) -> None:
    resp = client.post("/api/knowledge/ask", json={"question": "县残联多久开一次代表大会", "channel": "voice"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["answered"] is True and "5年" in body["answer"]
    assert body["citation"] and "甘肃" in body["citation"]
    assert len(body["voice_answer"]) < len(body["answer"])


def test_unanswerable_question_is_declined_and_kept_for_staff(client: TestClient, settings_env) -> None:
    resp = client.post("/api/knowledge/ask", json={"question": "明天北京天气怎么样", "channel": "web"})
    assert resp.status_code == 200 and resp.json()["answered"] is False
    assert any(r["question"] == "明天北京天气怎么样" for r in list_unanswered(data_dir=settings_env / "kb"))


def test_bad_input_gets_the_error_shape(client: TestClient) -> None:
    resp = client.post("/api/knowledge/ask", json={"question": "", "channel": "web"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"
    resp = client.post("/api/knowledge/ask", json={"question": "你好", "channel": "fax"})
    assert resp.status_code == 422
