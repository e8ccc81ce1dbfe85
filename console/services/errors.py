"""One error base for the services: every refusal a person may see derives from :class:`ServiceError`.

Pages show any of them through one helper (:func:`console.ui.actions.run_action`), so a new kind of
refusal needs no new ``except`` list anywhere.  The message is written for the person who acted.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An action the service refused, with a message for the person who asked."""
