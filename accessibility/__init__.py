"""Citizen-facing text channels: the accessible web chat, SMS, easy-read text."""
