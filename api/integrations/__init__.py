"""Outside services the hotline talks to (Twilio), each in one module."""
