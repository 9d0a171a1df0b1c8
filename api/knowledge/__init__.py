"""Policy answers with citations, retrieved from the federation's own documents (issue 5).

Nothing here runs at import time: the index is built or loaded on first use.
"""

from api.knowledge.answer import Answer, Citation, answer_question, ask
from api.knowledge.unanswered import list_unanswered, record_unanswered

__all__ = ["Answer", "Citation", "answer_question", "ask", "list_unanswered", "record_unanswered"]
