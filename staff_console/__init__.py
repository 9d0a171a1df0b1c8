"""The staff console at /staff: the live queue, taking over conversations, work orders, oversight and audit.

Server-rendered pages that work by keyboard alone and without JavaScript; the script
only adds the live queue and the idle-time warning.
"""
