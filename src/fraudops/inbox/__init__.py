"""Drop-folder batch scoring: each CSV in ``incoming/`` scored exactly once.

``names`` (folders, which files to take), ``ledger`` (claim states, content records),
``scorefile`` (one file), ``run`` (the pass over an inbox), ``storage`` (local folder, S3).
"""

from fraudops.inbox.ledger import Outcome
from fraudops.inbox.report import FileReport, InboxProgress, InboxSummary
from fraudops.inbox.run import drop_file, score_inbox

__all__ = ["FileReport", "InboxProgress", "InboxSummary", "Outcome", "drop_file", "score_inbox"]
