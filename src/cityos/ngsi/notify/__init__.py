"""Subscriptions' notifications: matching, rendering, senders and delivery workers.

ETSI GS CIM 009 v1.8 §5.8.6; reliable delivery from the store's change log (outbox).
"""

from cityos.ngsi.notify.notifier import Notifier, space

__all__ = ["Notifier", "space"]
