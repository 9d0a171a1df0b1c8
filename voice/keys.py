"""Keypad handling as a pure state machine: which key means what, given what was asked.

Keys work at any time (DESIGN.md): 0 a person, # repeat, * slower, 9 SMS; digits
followed by # enter a number. 0 and 9 start a number only while one is asked
for; a typed number is read back and used only after the caller confirms with #.
While a yes/no question is open (consent), 1 answers yes and 2 no; while the assistant's
question lists keys (choice: "打电话请按1，发短信请按2"), one key is the answer: every
spoken question has a keypad answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from api import wording
from voice.speech_text import looks_like_phone, looks_like_ticket


class Expect(StrEnum):
    nothing = "nothing"
    phone = "phone"
    ticket = "ticket"
    last4 = "last4"  # the last four digits of the phone number a work order was filed with
    consent = "consent"  # a yes/no question: 1 yes, 2 no
    choice = "choice"  # the assistant's question lists keys ("按1…按2…"): one key 1-8 is the answer


def number_problem(expect: Expect, number: str) -> str:
    """Why a keyed number cannot be what was asked for ("" when it can): a phone number is a mobile's
    11 digits or a landline with its area code, a work-order number 12 digits, last four digits 4."""
    if expect is Expect.phone and not looks_like_phone(number):
        return wording.text("voice", "keys.phone_length", n=len(number))
    if expect is Expect.ticket and len(number) != 12:
        return wording.text("voice", "keys.ticket_length", n=len(number))
    if expect is Expect.ticket and not looks_like_ticket(number):
        return wording.text("voice", "keys.not_ticket")
    if expect is Expect.last4 and len(number) != 4:
        return wording.text("voice", "keys.last4_length", n=len(number))
    return ""


@dataclass(frozen=True)
class KeyAction:
    kind: str  # handoff, sms, repeat, slower, digit, number, confirm, reenter, cleared, yes, no, choice, other
    value: str = ""


@dataclass
class KeyCollector:
    expect: Expect = Expect.nothing
    buffer: str = ""
    pending_number: str = ""  # read back, waiting for confirmation
    max_digits: int = 20
    history: list[str] = field(default_factory=list)

    def press(self, key: str) -> KeyAction:
        self.history.append(key)
        if self.pending_number:
            if key == "#":
                number, self.pending_number = self.pending_number, ""
                return KeyAction("confirm", number)
            if key == "*":
                self.pending_number = ""
                return KeyAction("reenter")
            self.pending_number = ""
            self.buffer = key
            return KeyAction("digit", key)
        if self.buffer:
            if key.isdigit():
                if len(self.buffer) < self.max_digits:
                    self.buffer += key
                return KeyAction("digit", key)
            if key == "#":
                number, self.buffer = self.buffer, ""
                self.pending_number = number
                return KeyAction("number", number)
            self.buffer = ""
            return KeyAction("cleared")
        if key == "#":
            return KeyAction("repeat")
        if key == "*":
            return KeyAction("slower")
        free = self.expect in (Expect.nothing, Expect.consent, Expect.choice)
        if free and key == "0":
            return KeyAction("handoff")
        if free and key == "9":
            return KeyAction("sms")
        if self.expect is Expect.consent:
            return KeyAction({"1": "yes", "2": "no"}.get(key, "other"))
        if self.expect is Expect.choice and key in "12345678":
            return KeyAction("choice", key)
        self.buffer = key
        return KeyAction("digit", key)

    def offer(self, number: str) -> None:
        """A number heard by speech, waiting for the same confirmation as a typed one."""
        self.buffer = ""
        self.pending_number = number

    def reset(self) -> None:
        self.buffer = ""
        self.pending_number = ""
