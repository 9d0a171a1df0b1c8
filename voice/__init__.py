"""The phone line: Twilio Media Streams, Vosk speech recognition, pyttsx3/espeak-ng speech.

Layers are kept apart so each can be tested alone: `codec` and `twilio_protocol`
(the wire), `routes` (the transport), `call` (the per-call state machine),
`asr`/`tts`/`speech_text` (speech in and out), `actions` (outgoing Twilio work).
"""
