"""One phone call as a state machine: greet, listen, think, speak; keys, barge-in, silence.

Transport-free: it receives parsed protocol events and sends protocol messages
through an injected `send`, so the WebSocket handler, the tests and the
benchmark drive the same logic. Time for silence and playback is counted in
received audio (Twilio streams 20 ms frames continuously), which keeps the
behaviour exact and testable; a wall-clock watchdog covers peers that stop
streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api import wording
from api.models.ticket import ContactPreference, TicketKind
from api.services import callers
from voice import codec
from voice import twilio_protocol as tp
from voice.actions import CHINA_TZ, CallActions, callback_promise
from voice.asr import AsrResult, CallRecognizer, join_cjk
from voice.keys import Expect, KeyCollector, number_problem
from voice.speech_text import (
    correct_transcript,
    looks_like_phone,
    looks_like_ticket,
    normalize_for_speech,
    read_digits,
    read_phone,
    read_ticket,
    split_sentences,
    spoken_digits,
)
from voice.tts import Synthesizer
from voice.turn_end import TurnEnd
from voice.vad import VoiceActivity

log = logging.getLogger("voice.call")

DRAIN_SECONDS = 5.0
# Put on the recognition queue when the caller's turn has ended: take the recogniser's final result now;
# and when the caller has been quiet long enough that the turn is probably over: take it early, hold it.
ENDPOINT = b""
SETTLING = b"settling"
# Quiet after which a new stretch of speech is decoded as a turn of its own.
FRESH_START_MS = 800
# Audio handed to the recogniser at once (100 ms of 8 kHz PCM16).
ASR_BATCH_BYTES = 1600
# Quiet between words that still belongs to the same stretch of speech (for barge-in).
SPEECH_GAP_MS = 200
# On a keypad-only line: this much talking, then this much quiet, and the caller is told what keys do.
TALK_MS = 400
TALK_END_MS = 500  # how long a call that has ended may still decode what it received

# What the caller hears (api/wording/voice/call.yml). Key 0 and the recording notice come first, within
# the first six seconds of the call; a caller who talks over them hears them again after the next answer.
P = wording.texts("voice", "call")
YES = re.compile(r"^(对|是|是的|对的|正确|没错|确认|好的?)")
NO = re.compile(r"(不对|不是|错了|不正确|重新)")
# Answers to a yes/no question by voice; "no" is tried first (不要 contains 要).
CONSENT_NO = re.compile(r"^(不要|不用|不需要|不必|不了|别|算了|不)")
CONSENT_YES = re.compile(r"^(要|好|是|对|可以|需要|记住|行|嗯)")


# The assistant's question offers keys ("打电话请按1，发短信请按2"): one key answers it.
KEY_CHOICE = re.compile(r"按1.{0,12}按2")


def expected_number(reply: str) -> Expect:
    """Does the assistant's reply ask for a phone or work-order number, or for one key of a choice?"""
    if re.search(r"\d{5,}", reply):
        return Expect.nothing
    if KEY_CHOICE.search(reply):
        return Expect.choice
    asks = re.search(r"(请|告诉|提供|留下|输入|说出|多少|是什么)", reply)
    if asks and "后四位" in reply:
        return Expect.last4
    if asks and re.search(r"工单(号|编号)", reply):
        return Expect.ticket
    if asks and re.search(r"(手机|电话|联系)(号码|方式)", reply):
        return Expect.phone
    return Expect.nothing


def reprompt_for(expect: Expect, *, listening: bool, callback: bool = False) -> str:
    """What a silent caller hears: the number still awaited, or what this line can do.

    Why: a keypad-only line (no speech model) must not ask the caller to speak, and a
    caller in the middle of a number needs that request again, not a general question.
    A caller who pressed 0 and is giving a number for the callback has already asked
    for a person: they hear what the number is for, not "press 0" once more.
    """
    how = P["how_listening"] if listening else P["how_keypad"]
    if callback and expect is Expect.phone:
        return P["reprompt_callback"].format(how=how)
    what = {Expect.phone: P["what_phone"], Expect.ticket: P["what_ticket"], Expect.last4: P["what_last4"]}.get(expect)
    if what:
        return P["reprompt_number"].format(how=how, what=what)
    return P["reprompt"] if listening else P["reprompt_keypad"]


def _is_marker(chunk: bytes | None) -> bool:
    return chunk is ENDPOINT or chunk is SETTLING


def _joined(first: AsrResult | None, second: AsrResult | None) -> AsrResult | None:
    """One turn decoded in two parts (the caller went on after a pause): one result."""
    if first is None or not first.text:
        return second
    if second is None or not second.text:
        return first
    confidences = [c for c in (first.confidence, second.confidence) if c is not None]
    confidence = round(sum(confidences) / len(confidences), 3) if confidences else None
    return AsrResult(join_cjk(f"{first.text} {second.text}"), confidence, True)


def _sentences_through_notice(text: str) -> int:
    """How many spoken sentences of `text` it takes to give key 0 and the recording notice (0: none)."""
    for marker in (P["notice"], P["notice_again"]):
        at = text.find(marker)
        if at >= 0:
            return len(split_sentences(normalize_for_speech(text[: at + len(marker)])))
    return 0


def read_number(number: str) -> str:
    if looks_like_phone(number):
        return read_phone(number)
    if looks_like_ticket(number):
        return read_ticket(number)
    return "，".join(read_digits(number[i : i + 4]) for i in range(0, len(number), 4))


def for_keypad(text: str) -> str:
    """An assistant's request for a number, worded for a line that cannot hear speech: keys only."""
    text = re.sub(r"请(说出|告诉我|讲一下|说一下|说)", "请用电话按键输入", text)
    return text.replace("也可以按键输入，按井号键结束。", "输完请按井号键。")


def offer_again(text: str) -> str:
    """Work-order numbers are said twice, so a caller can write them down."""
    numbers = list(dict.fromkeys(re.findall(r"(?<!\d)(20\d{10})(?!\d)", text)))
    if not numbers:
        return text
    return text + "".join(P["offer_again"].format(number=n) for n in numbers)


class Phase(enum.StrEnum):
    listening = "listening"
    thinking = "thinking"
    speaking = "speaking"
    ending = "ending"
    ended = "ended"


@dataclass
class TurnReply:
    text: str
    handoff: bool = False
    ticket_number: str | None = None
    log_id: int | None = None


@dataclass
class CallConfig:
    silence_ms: int = 8000
    silence_limit: int = 3
    barge_in_ms: int = 600  # longer than a back-channel 嗯 or a 喂 at pick-up
    digit_timeout_ms: int = 6000
    playback_margin_ms: int = 400


@dataclass
class TurnTiming:
    heard: str
    confidence: float | None
    reply: str
    endpoint_at: float
    gateway_ms: float = 0.0
    first_audio_ms: float | None = None  # Vosk endpoint → first reply frame sent


@dataclass
class Call:
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int], Awaitable[None]]
    tts: Synthesizer
    turn_handler: Callable[[str, float | None], Awaitable[TurnReply]]
    actions: CallActions
    stream_sid: str
    caller_key: str
    recognizer: CallRecognizer | None
    asr_expected: bool
    config: CallConfig = field(default_factory=CallConfig)
    events_wanted: bool = False
    service_hours: str = "08:30-17:30"
    returned_order: str = ""  # the call came back from a transfer nobody answered, with this call-back order

    phase: Phase = Phase.listening
    clock_ms: int = 0
    slow: bool = False
    slow_stored: bool = False  # this caller agreed to slow speech on every call (caller_preference)
    silences: int = 0
    barge_ins: int = 0
    last_spoken: str = ""
    last_answer: str = ""
    pending_action: str = ""
    turns: list[TurnTiming] = field(default_factory=list)
    keys: KeyCollector = field(default_factory=KeyCollector)
    vad: VoiceActivity = field(default_factory=VoiceActivity)

    def __post_init__(self) -> None:
        self._utt = 0
        self._speak_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._audio_sent = False
        self._end_mark = ""
        self._playback_end_clock: int | None = None
        self._after: Callable[[], Awaitable[None]] | None = None
        self._then_end = False
        self._activity_clock = 0
        self._voiced_ms = 0
        self._talked_ms = 0  # voiced audio since the caller was last told that speech is not understood
        self._quiet_ms = 0
        self._speech_unheard_told = False
        self._turn_end = TurnEnd()
        self._quiet_run_ms = 0
        self._last_key_clock: int | None = None
        self._digit_hint_given = False
        self._asr_queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._asr_buffer = b""
        self._asr_task: asyncio.Task[None] | None = None
        self._pending_timing: TurnTiming | None = None
        self._unanswered: list[AsrResult] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._consent = ""  # the open yes/no question: "remember" or "forget" slow speech
        self._consent_asked = False  # one such question per call, however often * is pressed
        self._notice_owed = False  # the caller talked over key 0 and the recording notice
        self._notice_sentences = 0  # sentences of the current utterance up to its notice (0: it has none)
        self._notice_end_ms: int | None = None  # into the utterance: where its notice has been heard
        self._speak_start_clock = 0

    # --- lifecycle ---

    async def start(self) -> None:
        if self.recognizer is not None:
            self._asr_task = asyncio.create_task(self._asr_loop())
        if self.returned_order:
            # back from a transfer nobody answered: the call-back order first, then the assistant again
            lead = P["transfer_unanswered"]
            more = P["callback_returned_speech"] if self.hears_speech else ""
            await self.say(self._callback_words(lead, self.returned_order) + more + P["callback_returned_end"])
            return
        await self.say(P["greeting"] if self.hears_speech else P["greeting_keypad"])

    @property
    def hears_speech(self) -> bool:
        return self.asr_expected and self.recognizer is not None

    async def finish(self) -> None:
        """The stream ended (stop, disconnect): stop everything, keep nothing running.

        What the caller said just before hanging up is still decoded and handed to the
        assistant, unanswered: it reaches the grievance log, and an emergency still gets
        its work order, even with no one left on the line.
        """
        self.phase = Phase.ended
        await self._cancel_speaking()
        last_words = await self._drain_recognition()
        for task in list(self._tasks):
            task.cancel()
        if last_words is not None:
            try:
                await self.turn_handler(last_words.text, last_words.confidence)
            except Exception:
                log.exception("the caller's last words could not be handed over")

    async def _drain_recognition(self) -> AsrResult | None:
        """Decode the audio still queued, then what Vosk holds back for want of an endpoint."""
        if self._asr_task:
            self._to_recognizer(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):  # on timeout wait_for cancels it
                await asyncio.wait_for(self._asr_task, DRAIN_SECONDS)
        heard = list(self._unanswered)
        if self.recognizer is not None:
            with contextlib.suppress(Exception):
                tail = await self.recognizer.flush()
                if tail is not None:
                    heard.append(tail)
            with contextlib.suppress(Exception):
                await self.recognizer.close()
        said = [(text, r.confidence) for r in heard if (text := correct_transcript(r.text.strip()))]
        if not said:
            return None
        confs = [c for _, c in said if c is not None]
        return AsrResult("，".join(text for text, _ in said), min(confs) if confs else None, True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _event(self, payload: dict[str, Any]) -> None:
        if self.events_wanted:
            await self.send(tp.hotline_message(self.stream_sid, payload))

    # --- events from the transport ---

    def _to_recognizer(self, chunk: bytes | None) -> None:
        """Audio goes to the recogniser in 100 ms batches (per-call decoding costs half as much as in 20 ms
        frames); a marker or the end of the call sends what is waiting at once."""
        if chunk and chunk is not SETTLING:
            self._asr_buffer += chunk
            if len(self._asr_buffer) < ASR_BATCH_BYTES:
                return
        if self._asr_buffer:
            self._asr_queue.put_nowait(self._asr_buffer)
            self._asr_buffer = b""
        if not chunk or chunk is SETTLING:
            self._asr_queue.put_nowait(chunk)

    async def on_media(self, media: tp.Media) -> None:
        if self.phase is Phase.ended or media.track not in ("inbound", "inbound_track"):
            return
        pcm = codec.ulaw_to_pcm16(media.payload)
        frame_ms = max(1, len(media.payload) * 1000 // codec.SAMPLE_RATE)
        self.clock_ms += frame_ms
        voiced = self.vad.frame(pcm)
        if self.recognizer is not None and voiced and self._quiet_run_ms >= FRESH_START_MS:
            # speech after a long quiet: close what the recogniser holds (silence, or words it has not
            # finalised) first, so that the caller's turn is decoded on its own and its end is quick
            self._to_recognizer(ENDPOINT)
        self._quiet_run_ms = 0 if voiced else self._quiet_run_ms + frame_ms
        if voiced:
            self._voiced_ms += frame_ms
            self._talked_ms += frame_ms
            self._quiet_ms = 0
            if self.hears_speech:  # on a keypad-only line talking is no answer: the silence prompts go on
                self._activity_clock = self.clock_ms
        else:
            self._quiet_ms += frame_ms
            if self._quiet_ms > SPEECH_GAP_MS:  # the gaps between words do not end a stretch of speech
                self._voiced_ms = 0
        if self.recognizer is not None:
            self._to_recognizer(pcm)
            if self.phase is Phase.listening:
                if self._turn_end.frame(voiced, frame_ms, slow=self.slow):
                    self._to_recognizer(ENDPOINT)
                elif self._turn_end.settling(slow=self.slow):
                    self._to_recognizer(SETTLING)
        if self.phase is Phase.speaking:
            # without a recogniser the caller's voice cannot be understood: it does not cut the keys' prompt
            if self.hears_speech and self._voiced_ms >= self.config.barge_in_ms and not self._then_end:
                await self.barge_in()
            elif self._playback_end_clock is not None and self.clock_ms >= self._playback_end_clock:
                await self._playback_done(self._utt)
        elif self.phase is Phase.listening:
            if not self.hears_speech and self._talked_ms >= TALK_MS and self._quiet_ms >= TALK_END_MS:
                self._talked_ms = 0
                if not self._speech_unheard_told:
                    # told once, as soon as the caller stops talking, what the keys do
                    self._speech_unheard_told = True
                    await self.say(P["speech_unheard"])
                    return
            if self._voiced_ms and self.hears_speech:
                self.silences = 0
            typing = self.keys.buffer and self._last_key_clock is not None and not self._digit_hint_given
            if typing and self.clock_ms - (self._last_key_clock or 0) >= self.config.digit_timeout_ms:
                self._digit_hint_given = True
                await self.say(P["digit_hint"])
                return
            # Recognition may lag behind the audio on a busy machine: a caller whose words
            # are still being decoded is not silent.
            decoding = self._asr_queue.qsize() > 1
            if not decoding and self.clock_ms - self._activity_clock >= self.config.silence_ms:
                await self.on_silence()

    async def on_mark(self, mark: tp.Mark) -> None:
        if mark.name and mark.name == self._end_mark:
            await self._playback_done(self._utt)

    async def on_dtmf(self, dtmf: tp.Dtmf) -> None:
        if self.phase in (Phase.ending, Phase.ended):
            return
        self._touch()
        action = self.keys.press(dtmf.digit)
        await self._event({"type": "key", "digit": dtmf.digit, "action": action.kind})
        if action.kind == "digit":
            self._last_key_clock = self.clock_ms
            self._digit_hint_given = False
            if self.phase is Phase.speaking:
                await self.stop_speaking()
            return
        await self.stop_speaking()
        if action.kind == "handoff":
            await self.handoff()
        elif action.kind == "sms":
            await self.sms()
        elif action.kind == "repeat":
            await self.say(self.last_spoken or P["greeting"], remember=False)
        elif action.kind == "slower":
            await self.slower()
        elif action.kind in ("yes", "no"):
            await self.answer_consent(action.kind == "yes")
        elif action.kind == "choice":  # the key is the answer to the assistant's question
            self.keys.expect = Expect.nothing
            await self.ask_assistant(action.value, None, time.perf_counter())
        elif action.kind == "other":
            await self.say(P["consent_keys"], remember=False)
        elif action.kind == "number":
            problem = number_problem(self.keys.expect, action.value)
            if problem:
                self.keys.reset()
                await self.say(problem + P["reenter"])
            else:
                await self.say(P["number_typed"].format(number=read_number(action.value)))
        elif action.kind == "confirm":
            await self.use_number(action.value)
        elif action.kind == "reenter":
            await self.say(P["reenter"])
        elif action.kind == "cleared":
            await self.say(P["cleared"])

    # --- speaking ---

    async def say(
        self,
        text: str,
        *,
        then_end: bool = False,
        after: Callable[[], Awaitable[None]] | None = None,
        timing: TurnTiming | None = None,
        remember: bool = True,
    ) -> None:
        await self._cancel_speaking()
        if self.phase is Phase.ended:
            return
        self._utt += 1
        self._turn_end.reset()
        self._notice_sentences = _sentences_through_notice(text)
        if remember:
            self.last_spoken = text
        self.phase = Phase.speaking
        self._then_end = then_end
        if then_end:
            self.phase = Phase.ending
        self._after = after
        self._audio_sent = False
        self._end_mark = f"u{self._utt}-end"
        self._playback_end_clock = None
        await self._event({"type": "say", "text": text, "utterance": self._utt})
        self._speak_task = asyncio.create_task(self._speak(text, self._utt, timing))

    async def _speak(self, text: str, utt: int, timing: TurnTiming | None) -> None:
        start_clock = self._speak_start_clock = self.clock_ms
        sent_ms = 0
        sentence = 0
        self._notice_end_ms = None
        try:
            async for spoken in self.tts.stream(text, slow=self.slow):
                for frame in codec.pcm_to_frames(spoken.pcm):
                    await self.send(tp.media_message(self.stream_sid, frame))
                    if not self._audio_sent:
                        self._audio_sent = True
                        if timing is not None:
                            timing.first_audio_ms = (time.perf_counter() - timing.endpoint_at) * 1000
                            await self._turn_event(timing)
                sent_ms += codec.duration_ms(spoken.pcm)
                sentence += 1
                if sentence == self._notice_sentences:
                    self._notice_end_ms = sent_ms
                await self.send(tp.mark_message(self.stream_sid, f"u{utt}-s{sentence}"))
            await self.send(tp.mark_message(self.stream_sid, self._end_mark))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("speaking failed")
        if timing is not None and not self._audio_sent:
            await self._turn_event(timing)
        self._playback_end_clock = start_clock + sent_ms + self.config.playback_margin_ms
        self._watchdog = asyncio.create_task(self._wall_watchdog(utt, sent_ms))

    async def _wall_watchdog(self, utt: int, sent_ms: int) -> None:
        await asyncio.sleep(sent_ms / 1000 + 2.0)
        await self._playback_done(utt)

    async def _turn_event(self, timing: TurnTiming) -> None:
        self.turns.append(timing)
        await self._event(
            {
                "type": "turn",
                "heard": timing.heard,
                "confidence": timing.confidence,
                "reply": timing.reply,
                "gateway_ms": round(timing.gateway_ms, 1),
                "endpoint_to_first_audio_ms": None
                if timing.first_audio_ms is None
                else round(timing.first_audio_ms, 1),
            }
        )

    async def _playback_done(self, utt: int) -> None:
        if utt != self._utt or self.phase not in (Phase.speaking, Phase.ending):
            return
        if self._speak_task and not self._speak_task.done():
            return  # still sending; the end mark or clock will come later
        self._playback_end_clock = None
        if self._watchdog and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        after, self._after = self._after, None
        if self._then_end:
            await self.end()
            return
        self.phase = Phase.listening
        self._activity_clock = self.clock_ms  # silence is counted from the end of our speech
        if after is not None:
            self._spawn(after())

    async def _cancel_speaking(self) -> None:
        for task in (self._speak_task, self._watchdog):
            if task and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._speak_task = None
        self._watchdog = None

    async def stop_speaking(self) -> None:
        """Stop our audio now: Twilio drops what it buffered when it gets `clear`."""
        if self.phase is not Phase.speaking:
            return
        if self._notice_sentences and (
            self._notice_end_ms is None or self.clock_ms - self._speak_start_clock < self._notice_end_ms
        ):
            self._notice_owed = True  # cut before key 0 and the recording notice were heard: said again later
        await self._cancel_speaking()
        if self._audio_sent:
            await self.send(tp.clear_message(self.stream_sid))
        self._after = None
        self.phase = Phase.listening
        self._touch()

    async def barge_in(self) -> None:
        if self.phase is not Phase.speaking or self._then_end:
            return
        self.barge_ins += 1
        await self.stop_speaking()
        await self._event({"type": "barge_in"})

    def _owed_notice(self) -> str:
        owed, self._notice_owed = self._notice_owed, False
        return P["notice_again"] if owed else ""

    def _touch(self) -> None:
        self._activity_clock = self.clock_ms
        self.silences = 0

    async def on_silence(self) -> None:
        self.silences += 1
        self._activity_clock = self.clock_ms
        count = self.silences
        if count >= self.config.silence_limit:
            await self.say(P["goodbye"], then_end=True, remember=False)
        elif self._consent:
            await self.say(P["slow_ask" if self._consent == "remember" else "slow_off_ask"], remember=False)
        else:
            reprompt = reprompt_for(
                self.keys.expect, listening=self.hears_speech, callback=self.pending_action == "callback"
            )
            await self.say(reprompt + self._owed_notice(), remember=False)
        self.silences = count

    async def end(self) -> None:
        if self.phase is Phase.ended:
            return
        self.phase = Phase.ended
        await self._event({"type": "end"})
        with contextlib.suppress(Exception):
            await self.close(1000)

    # --- speech ---

    async def _asr_loop(self) -> None:
        """Feed the recogniser; at the end of a turn hand its final result to `on_asr`.

        The final result costs the recogniser 100-250 ms (it decodes the audio its network held back
        for context). So when the caller has been quiet for a moment (SETTLING) the result is taken
        early and held; at the end of the turn it is ready. Should the caller go on, what they say
        next is decoded on its own and joined to the held part.
        """
        assert self.recognizer is not None
        held: AsrResult | None = None
        while True:
            chunk = await self._asr_queue.get()
            if chunk is None:
                break
            parts = [chunk]
            ended = False
            while not _is_marker(parts[-1]) and not self._asr_queue.empty():
                nxt = self._asr_queue.get_nowait()
                if nxt is None:
                    ended = True
                    break
                parts.append(nxt)
            marker = parts.pop() if _is_marker(parts[-1]) else None
            try:
                audio = b"".join(parts)
                result = await self.recognizer.accept(audio) if audio else None
                if result is not None:  # the recogniser's own end of an utterance
                    result, held = _joined(held, result), None
                    if result is not None:
                        await self.on_asr(result, time.perf_counter())
                if marker is not None:
                    held = _joined(held, await self.recognizer.flush())
                if marker is ENDPOINT and held is not None:
                    result, held = held, None
                    await self.on_asr(result, time.perf_counter())
            except Exception:
                log.exception("recognition failed; continuing by keypad")
                self.recognizer = None
                await self.say(P["asr_lost"])
                return
            if ended:
                break
        if held is not None:
            await self.on_asr(held, time.perf_counter())  # the call is ending: kept for the log

    async def on_asr(self, result: AsrResult, at: float) -> None:
        if self.phase in (Phase.ending, Phase.ended):
            if result.final and result.text.strip():
                self._unanswered.append(result)  # said while we hang up: logged by finish()
            return
        if not result.final or self.phase is Phase.speaking:
            # Only the speech detector cuts a prompt (600 ms of speech): words recognised while we speak
            # come from a 嗯, a 喂 or line noise, or from speech that has already cut in.
            return
        text = correct_transcript(result.text.strip())
        if not text:
            return
        self._touch()
        await self.stop_speaking()
        if self._consent:
            answer = re.sub(r"^[\s，。、！？,.!?]+", "", text)
            if CONSENT_NO.match(answer) or CONSENT_YES.match(answer):
                await self.answer_consent(not CONSENT_NO.match(answer))
                return
            self._close_consent()  # the caller moved on: the question lapses, nothing is stored
        if self.keys.pending_number:
            if NO.search(text):
                self.keys.reset()
                await self.say(P["reenter"])
                return
            if YES.search(text):
                number = self.keys.pending_number
                self.keys.reset()
                await self.use_number(number)
                return
        if self.keys.expect is not Expect.nothing:
            digits = spoken_digits(text)
            if len(digits) >= 5:
                self.keys.offer(digits)
                await self.say(P["number_heard"].format(number=read_number(digits)))
                return
        await self.ask_assistant(text, result.confidence, at)

    async def ask_assistant(self, text: str, confidence: float | None, at: float) -> None:
        self.phase = Phase.thinking
        timing = TurnTiming(heard=text, confidence=confidence, reply="", endpoint_at=at)
        started = time.perf_counter()
        try:
            reply = await self.turn_handler(text, confidence)
        except Exception:
            log.exception("chat gateway failed")
            reply = TurnReply(P["assistant_error"])
        timing.gateway_ms = (time.perf_counter() - started) * 1000
        timing.reply = reply.text
        if self.phase is Phase.ended:
            return
        self.last_answer = reply.text
        self.keys.expect = expected_number(reply.text)
        spoken = offer_again(reply.text)
        if not self.hears_speech:
            spoken = for_keypad(spoken)
        if self.keys.expect not in (Expect.nothing, Expect.choice) and "按键" not in spoken:
            spoken += P["number_hint"]
        spoken += self._owed_notice()
        after = None
        if reply.handoff and self.actions.can_transfer():
            spoken += P["transfer"]
            after = self._do_transfer
        elif reply.handoff and not reply.ticket_number:
            # the assistant handed over (an emergency, two misunderstandings) but this call cannot be
            # moved to a person: never leave the caller holding for nobody, arrange the call-back
            after = self._callback_flow
        await self.say(spoken, timing=timing, after=after)

    # --- keys ---

    async def handoff(self) -> None:
        if self.actions.can_transfer():
            await self.say(P["transfer"], after=self._do_transfer)
            await self.actions.log_key_action("[按键0] 要求人工服务", P["transfer"], ticket_number=None, handoff=True)
            return
        await self._callback_flow()

    async def _callback_flow(self) -> None:
        """No person can take the call now: a confirmed number, a call-back work order, what happens next."""
        if not self.actions.caller_phone:
            self.pending_action = "callback"
            self.keys.expect = Expect.phone
            await self.say(P["callback_ask"] + P["ask_phone"])
            return
        await self._callback_order(self.actions.caller_phone)

    async def _do_transfer(self) -> None:
        if await self.actions.transfer():
            return
        await self._callback_order(self.actions.caller_phone, failed=True)

    async def _callback_order(self, phone: str, *, failed: bool = False) -> None:
        number = await self.actions.work_order(
            kind=TicketKind.help_request,
            description="来电要求人工服务，请按约定时间回电。"
            + (f"最近一次答复：{self.last_answer}" if self.last_answer else ""),
            phone=phone,
            preference=ContactPreference.call,  # the caller asked to be called back
        )
        lead = P["callback_failed"] if failed else P["callback_no_transfer"]
        text = self._callback_words(lead, number)
        await self.actions.log_key_action("[按键0] 要求人工服务", text, ticket_number=number, handoff=True)
        await self.say(text)

    def _callback_words(self, lead: str, number: str) -> str:
        when = callback_promise(datetime.now(CHINA_TZ), self.service_hours)
        return lead + P["callback_registered"].format(number=number, when=when)

    async def sms(self) -> None:
        if not self.last_answer:
            await self.say(P["sms_none"])
            return
        phone = self.actions.caller_phone
        if not phone:
            self.pending_action = "sms"
            self.keys.expect = Expect.phone
            await self.say(P["ask_phone"])
            return
        await self._send_answer(phone, verified=True)

    async def _send_answer(self, phone: str, *, verified: bool) -> None:
        body = wording.text("sms", "replies.voice_answer", answer=self.last_answer)
        if verified and await self.actions.unsubscribed(phone):
            # 退订 holds here too; a number the caller keyed in is left to staff, whose SMS checks it.
            await self.actions.log_key_action(
                "[按键9] 短信发送答复", P["sms_unsubscribed"], ticket_number=None, handoff=False
            )
            await self.say(P["sms_unsubscribed"])
            return
        if verified and await self.actions.send_sms(phone, body):
            await self.actions.log_key_action("[按键9] 短信发送答复", P["sms_ok"], ticket_number=None, handoff=False)
            await self.say(P["sms_ok"])
            return
        number = await self.actions.work_order(
            kind=TicketKind.consultation,
            description=f"来电要求用短信发送答复：{self.last_answer}",
            phone=phone,
            preference=ContactPreference.sms,  # the caller pressed 9 for the answer by SMS
        )
        text = P["sms_failed"].format(number=number)
        await self.actions.log_key_action("[按键9] 短信发送答复", text, ticket_number=number, handoff=False)
        await self.say(text)

    async def slower(self) -> None:
        """`*` toggles slow speech; a caller we can recognise is asked (once a call) whether to keep it."""
        self._close_consent()
        self.slow = not self.slow
        known = bool(self.caller_key)
        if self.slow:
            if known and not self.slow_stored and not self._consent_asked:
                await self._ask_consent("remember", P["slow_ask"])
            else:
                await self.say(P["slow_on"], remember=False)
        elif known and self.slow_stored and not self._consent_asked:
            await self._ask_consent("forget", P["slow_off_ask"])
        else:
            await self.say(P["slow_off"], remember=False)

    async def _ask_consent(self, topic: str, question: str) -> None:
        self._consent = topic
        self._consent_asked = True
        self.keys.reset()
        self.keys.expect = Expect.consent
        await self.say(question, remember=False)

    def _close_consent(self) -> None:
        if self._consent:
            self._consent = ""
            if self.keys.expect is Expect.consent:
                self.keys.expect = Expect.nothing

    async def answer_consent(self, yes: bool) -> None:
        """Store or delete the preference only on the caller's explicit answer."""
        topic = self._consent
        self._close_consent()
        if not topic:
            return
        store = (topic == "remember") == yes  # yes to remembering, or no to forgetting
        if store == self.slow_stored:
            await self.say(P["slow_not_remembered" if topic == "remember" else "slow_kept"], remember=False)
            return
        try:
            if store:
                await asyncio.to_thread(callers.remember_slow, self.caller_key)
            else:
                await asyncio.to_thread(callers.forget_slow, self.caller_key)
        except Exception:
            log.exception("caller preference not saved")
            await self.say(P["slow_unsaved"], remember=False)
            return
        self.slow_stored = store
        await self.say(P["slow_remembered" if store else "slow_forgotten"], remember=False)

    async def use_number(self, number: str) -> None:
        action, self.pending_action = self.pending_action, ""
        asked, self.keys.expect = self.keys.expect, Expect.nothing
        if not action and asked is Expect.nothing and looks_like_ticket(number):
            # a work-order number keyed with nothing asked: the keypad way to ask for its progress
            await self.ask_assistant(f"查询工单{number}", None, time.perf_counter())
            return
        if action == "callback":
            await self._callback_order(number)
        elif action == "sms":
            await self._send_answer(number, verified=False)
        else:
            await self.ask_assistant(number, None, time.perf_counter())
