"""Fixtures of the plugin-host tests: fresh plugin modules, an SMTP server, the faulty plugins."""
import socket
import sys
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from tests.plugins.helpers import BUNDLED, FIXTURES


@pytest.fixture(autouse=True)
def fresh_plugin_modules():
    """Forget the fixture plugins' modules after each test, so module-level state starts empty."""
    yield
    for name in [m for m in sys.modules if m.startswith("herald_plugin_")]:
        del sys.modules[name]


class Sink:
    """Keeps every message the SMTP server received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 Message accepted"


@pytest.fixture
def smtp_sink():
    """A real SMTP server on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.url = f"smtp://127.0.0.1:{port}"
    yield sink
    controller.stop()


@pytest.fixture
def faulty_app(make_app, tmp_path, smtp_sink):
    """An app loading the plugins of tests/fixtures/plugins/faulty and the bundled Core e-mails
    (none active yet), sending to ``smtp_sink``."""
    folder = tmp_path / "faulty_plugins"
    folder.mkdir()
    for plugin in [*(FIXTURES / "faulty").iterdir(), BUNDLED / "core_emails"]:
        (folder / plugin.name).symlink_to(plugin, target_is_directory=True)
    return make_app(PLUGINS_DIR=str(folder), SMTP_URL=smtp_sink.url)
