"""Notifications (`keydesk notify`): what an owner must know about a key,
told once, through the channels a workspace's owners configure.

notices.py   what is due: expiry thresholds, a rotation's old key still used,
             a leaked key revoked, a spike of wrong secrets
channels.py  a workspace's webhooks and email addresses (owners only)
senders.py   a signed webhook POST; an email through SMTP (STARTTLS)
delivery.py  a run: claim each notice once in the store, send, retry failures
"""

from keydesk.notify.channels import AddedWebhook, Channels, ChannelView
from keydesk.notify.delivery import Failure, Notifier, Pending, RunReport
from keydesk.notify.notices import Notice
from keydesk.notify.senders import SIGNATURE_HEADER, DeliveryFailed, signature

__all__ = [
    "SIGNATURE_HEADER",
    "AddedWebhook",
    "ChannelView",
    "Channels",
    "DeliveryFailed",
    "Failure",
    "Notice",
    "Notifier",
    "Pending",
    "RunReport",
    "signature",
]
