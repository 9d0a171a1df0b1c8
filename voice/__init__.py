"""The phone line: Twilio Media Streams, Vosk speech recognition, espeak-ng speech."""
