"""The web and SMS channel tests use the shared browser fixtures of tests/browser_support.py."""
