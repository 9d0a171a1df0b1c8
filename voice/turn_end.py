"""When has the caller finished speaking? Trailing quiet, adapted to the caller.

The recogniser's own end-of-utterance rules wait about a second of silence (and on a
noisy line may never fire), so a reply came 1-2 s after the caller stopped. The call
instead decides the end of the turn from the audio's loudness and then takes the
recogniser's final result at once. How long a quiet stretch ends a turn adapts to the
caller: the pauses they make inside their own sentences (a slow or hesitant speaker
pauses longer) and their slow-speech preference lengthen it, within a ceiling.

Pure and clock-free: fed one frame at a time, tested without audio or network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Quiet that ends a turn: ordinary speakers, callers who asked for slow speech, and the ceiling.
BASE_MS = 450
SLOW_MS = 800
MAX_MS = 1200
# A turn needs this much speech (a cough or a click is no turn).
MIN_SPEECH_MS = 240
# A quiet stretch this long, followed by more speech, is a pause inside the caller's sentence.
PAUSE_MIN_MS = 120
PAUSES_KEPT = 20
# The final result is prepared this long before the turn's end (it takes the recogniser up to ~250 ms).
SETTLE_LEAD_MS = 200
SETTLE_MIN_MS = 200


@dataclass
class TurnEnd:
    speech_ms: int = 0
    quiet_ms: int = 0
    pauses: list[int] = field(default_factory=list)
    settled: bool = False  # `settling` has fired in this quiet stretch

    def frame(self, voiced: bool, ms: int, *, slow: bool = False) -> bool:
        """Feed one frame; True when this frame ends the caller's turn."""
        if voiced:
            if self.speech_ms and self.quiet_ms >= PAUSE_MIN_MS:
                self.pauses = [*self.pauses, self.quiet_ms][-PAUSES_KEPT:]
            self.speech_ms += ms
            self.quiet_ms = 0
            self.settled = False
            return False
        if not self.speech_ms:
            return False
        self.quiet_ms += ms
        if self.speech_ms >= MIN_SPEECH_MS and self.quiet_ms >= self.wait_ms(slow=slow):
            self.reset()
            return True
        return False

    def settling(self, *, slow: bool = False) -> bool:
        """True once per quiet stretch, shortly before it would end the turn: the turn is probably over."""
        if self.settled or self.speech_ms < MIN_SPEECH_MS or not self.quiet_ms:
            return False
        if self.quiet_ms >= max(SETTLE_MIN_MS, self.wait_ms(slow=slow) - SETTLE_LEAD_MS):
            self.settled = True
            return True
        return False

    def wait_ms(self, *, slow: bool = False) -> int:
        """The quiet that ends this caller's turn: longer than most of the pauses they make mid-sentence."""
        wait = SLOW_MS if slow else BASE_MS
        if self.pauses:
            ordered = sorted(self.pauses)
            typical = ordered[int(0.8 * (len(ordered) - 1))]
            wait = max(wait, int(typical * 1.3))
        return min(MAX_MS, wait)

    def reset(self) -> None:
        """Forget the turn in progress (the hotline starts speaking, or the turn ended)."""
        self.speech_ms = 0
        self.quiet_ms = 0
        self.settled = False
