"""Is the caller speaking? Loudness above the line's own noise floor, confirmed by silero-vad.

A fixed loudness threshold cut the prompts on a noisy line and missed quiet callers
(−40 dBFS took 2 s to interrupt). Here a frame counts as speech when it stands out from
the noise floor this line has shown so far and, when the silero-vad model is present,
the model says it is speech; noise bursts, hum and clicks are not. Without the model
(a machine that could not fetch it) the loudness test alone decides, as before.

The ONNX session is shared by every call (created once, off the import path); each call
keeps its own recurrent state, so calls do not disturb each other.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from voice import codec

log = logging.getLogger("voice.vad")

# silero-vad at 8 kHz: 256-sample windows with the previous 32 samples as context.
WINDOW = 256
CONTEXT = 32
SPEECH_PROBABILITY = 0.5
# A frame must be this much louder than the floor (about +8 dB) and never quieter than -50 dBFS.
FLOOR_RATIO = 2.5
MIN_RMS = 100
START_FLOOR = 60
# The floor follows quiet frames down quickly and noise up within about a second.
FLOOR_DOWN = 0.3
FLOOR_UP = 0.05


class SileroModel:
    """The silero-vad ONNX network, loaded once per process."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _loaded: ClassVar[dict[Path, SileroModel]] = {}

    def __init__(self, path: Path) -> None:
        import numpy as np
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self.np = np
        self.session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.rate = np.array(codec.SAMPLE_RATE, dtype=np.int64)

    @classmethod
    def load(cls, path: Path) -> SileroModel | None:
        """The shared model, or None when the file or the runtime is missing (loudness decides alone)."""
        with cls._lock:
            if path in cls._loaded:
                return cls._loaded[path]
            if not path.is_file():
                return None
            try:
                model = cls(path)
            except Exception as exc:  # a broken file or a missing runtime must not stop calls
                log.warning("silero-vad not loaded (%s: %s); loudness alone decides", type(exc).__name__, exc)
                return None
            cls._loaded[path] = model
            return model

    def new_state(self) -> Any:
        return self.np.zeros((2, 1, 128), dtype=self.np.float32)

    def probability(self, window: Any, state: Any) -> tuple[float, Any]:
        out, new_state = self.session.run(None, {"input": window, "state": state, "sr": self.rate})
        return float(out[0][0]), new_state


@dataclass
class VoiceActivity:
    """Per call: feed 20 ms PCM16 frames, get speech or not."""

    model: SileroModel | None = None
    floor: float = START_FLOOR
    probability: float = 0.0
    _samples: list[float] = field(default_factory=list)
    _context: list[float] = field(default_factory=lambda: [0.0] * CONTEXT)
    _state: Any = None

    def __post_init__(self) -> None:
        if self.model is not None:
            self._state = self.model.new_state()

    def threshold(self) -> float:
        return max(MIN_RMS, self.floor * FLOOR_RATIO)

    def frame(self, pcm16: bytes) -> bool:
        level = codec.rms(pcm16)
        loud = level >= self.threshold()
        if self.model is not None:
            self._feed(pcm16, loud)
            speech = loud and self.probability >= SPEECH_PROBABILITY
        else:
            speech = loud
        if not speech:
            rate = FLOOR_DOWN if level < self.floor else FLOOR_UP
            self.floor += (level - self.floor) * rate
        return speech

    def _feed(self, pcm16: bytes, loud: bool) -> None:
        assert self.model is not None
        np = self.model.np
        if not loud and not self._samples and self.probability < SPEECH_PROBABILITY:
            # quiet line: nothing to ask the network; its memory of speech fades with the quiet
            self.probability = 0.0
            return
        samples = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
        self._samples.extend(samples.tolist())
        while len(self._samples) >= WINDOW:
            chunk = self._samples[:WINDOW]
            del self._samples[:WINDOW]
            window = np.array([self._context + chunk], dtype=np.float32)
            self._context = chunk[-CONTEXT:]
            self.probability, self._state = self.model.probability(window, self._state)
