"""Every step: `python manage.py runserver`, the command students type, is Daphne (ASGI).

The other acceptance tests start Daphne directly, which serves asgi.py whatever
INSTALLED_APPS says. Students type runserver: only with "daphne" listed before
django.contrib.staticfiles does it serve ASGI; otherwise it is Django's own WSGI
server, and every WebSocket gets a 404 (troubleshooting row runserver-not-asgi).
"""

import asyncio

import pytest

from tests.chat_client import chat_message, join, next_frame, say

pytestmark = pytest.mark.needs("http")


def test_runserver_starts_daphne(runserver):
    log = runserver.log_text()
    assert "Starting ASGI/Daphne" in log, (
        "`python manage.py runserver` started Django's own (WSGI) server, not Daphne's:\n" + log
    )


@pytest.mark.needs("websocket")
def test_a_socket_opens_through_runserver(runserver):
    async def scenario():
        async with join(runserver, "lobby") as socket:
            await say(socket, "through runserver")
            return await next_frame(socket)

    assert asyncio.run(scenario()) == chat_message(runserver, "through runserver")
