"""Policy answers with citations, retrieved from the federation's own documents (issue 5).

Nothing here runs at import time: the index is built or loaded on first use.
"""

import logging

from api.knowledge.answer import Answer, Citation, answer_question, ask
from api.knowledge.unanswered import list_unanswered, record_unanswered

__all__ = ["Answer", "Citation", "answer_question", "ask", "list_unanswered", "record_unanswered", "warm_up"]


def warm_up() -> None:
    """Load the index, the tokenizer and the gazetteer with one question (called at app start, off the loop)."""
    try:
        ask("残联代表大会几年召开一次")
    except Exception:  # a broken corpus is reported by the first real question, not by the start
        logging.getLogger(__name__).exception("knowledge base warm-up failed")
