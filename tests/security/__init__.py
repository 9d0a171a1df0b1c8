"""Each attack of issue 18, replayed against the real parts and shown refused or detected."""
