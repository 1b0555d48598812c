"""A channel's settings as an attacker or an unlucky owner gives them: what
is refused, and that a refusal never repeats a credential."""

from __future__ import annotations

import pytest

from keydesk.errors import InvalidInput
from keydesk.notify import Channels
from keydesk.service.context import ServiceContext


@pytest.mark.parametrize("url", ["https://xoxb-token@hooks.example.com/kd",
                                 "https://xoxb-token:@hooks.example.com/kd"])  # fmt: skip
def test_a_webhook_url_with_credentials_is_refused_without_repeating_them(world, url):
    """A user name may be a token: the trail and failure lines name a
    webhook by its origin, which would carry it (and urllib cannot send it)."""
    with pytest.raises(InvalidInput, match="webhook URL") as refused:
        Channels(ServiceContext(world.store, "alice", None)).add_webhook("acme", url)
    assert "xoxb-token" not in str(refused.value)
    assert Channels(ServiceContext(world.store, "alice", None)).listed() == []


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/kd", "http://10.0.0.5/kd", "http://localhost.example.com/kd"],
)
def test_a_plain_http_webhook_to_another_host_is_refused(module_world, url):
    """README: webhooks are `https://` only (`http://` to localhost): a plain
    URL elsewhere would send each notice readable on the way."""
    channels = Channels(ServiceContext(module_world.store, "alice", None))
    with pytest.raises(InvalidInput) as refused:
        channels.add_webhook("acme", url)
    assert refused.value.message == (
        f"the webhook URL '{url}' must be an absolute https:// URL (http:// only to localhost)"
    )
    assert channels.listed() == []
