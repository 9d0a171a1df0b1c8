"""Numbers as Chinese citizens say and write them: digit tables and readings (`digits`), phone-number
patterns (`phones`).

Standard library only and Python 3.10 compatible: the app (.venv, 3.11) and the assistant (.venv-bot,
3.10, Rasa) both import it, so neither pulls in the other's dependencies. The assistant finds it
through `bot/hotline_nlu/__init__.py`, which puts the project root at the end of `sys.path`.
"""
