"""Fixtures for the reliability tests: a browser that counts sockets.

Fault tests stop and restart Redis, so they never use the session's shared one: each gets
a private redis-server on a free port (tests/conftest.py's private_redis).
"""

from __future__ import annotations

import pytest

# Run before the page's own script: wrap WebSocket so that the test can count
# every room socket the page opens and the most that were ever alive at once.
# Only room sockets (/ws/chat/): from step 09 on, each page also opens a socket
# for its user's notifications, which reconnects on its own.
COUNT_SOCKETS = """
window.socketsOpened = 0;
window.mostSocketsAlive = 0;
const sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
        super(...args);
        if (!String(args[0]).includes('/ws/chat/')) {
            return;
        }
        sockets.push(this);
        window.socketsOpened += 1;
        const alive = sockets.filter((s) => s.readyState <= NativeWebSocket.OPEN).length;
        window.mostSocketsAlive = Math.max(window.mostSocketsAlive, alive);
    }
};
"""


@pytest.fixture
def socket_counting_tab(browser):
    """A new browser tab in which every page counts its WebSockets (see COUNT_SOCKETS).

    The script is registered for this tab only; the browser fixture closes the tab.
    """
    browser.switch_to.new_window("tab")
    browser.execute_cdp_cmd("Page.enable", {})
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_SOCKETS})
    return browser
