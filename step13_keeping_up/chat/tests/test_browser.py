"""End-to-end tests: a real browser, a real server, two windows chatting.

ChannelsLiveServerTestCase starts Daphne in another process with a test
database; Selenium drives headless Chrome or Chromium against it. The server
uses the channel layer from settings.py, so Redis must be running.

Where your browser and driver live: CHROME_BINARY and CHROMEDRIVER_PATH.
Left unset, Debian's /usr/bin/chromium and /usr/bin/chromedriver are used
when present; otherwise Selenium looks for Chrome and its driver itself.
"""

import os
import shutil

from channels.testing import ChannelsLiveServerTestCase
from django.contrib.auth.models import User
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

WAIT_SECONDS = 10

# Run before each page's own script: keep every WebSocket the page opens in
# window.openedSockets, so that a test can close one as a network hiccup would.
REMEMBER_SOCKETS = """
window.openedSockets = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
    constructor(url, protocols) {
        super(url, protocols);
        window.openedSockets.push(this);
    }
};
"""
# The room's sockets among them, oldest first.
ROOM_SOCKETS = "window.openedSockets.filter((socket) => socket.url.includes('/ws/chat/'))"


def start_browser():
    options = webdriver.ChromeOptions()
    options.add_argument("--headless")  # no window
    options.add_argument("--no-sandbox")  # needed when tests run as root
    options.add_argument("--disable-dev-shm-usage")
    browser_path = os.environ.get("CHROME_BINARY") or shutil.which("chromium")
    if browser_path:
        options.binary_location = browser_path
    driver_path = os.environ.get("CHROMEDRIVER_PATH") or shutil.which("chromedriver")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


class ChatTests(ChannelsLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.driver = start_browser()
            cls.driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": REMEMBER_SOCKETS}
            )
        except Exception:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        super().tearDownClass()

    def setUp(self):
        # The test database is emptied after each test: create the account again,
        # and log in through the login page, as a person does. Both windows of one
        # browser share its cookies, so they are both alice.
        User.objects.create_user("alice", password="a long password")
        self._log_in("alice", "a long password")

    def test_when_chat_message_posted_then_seen_by_everyone_in_same_room(self):
        self._enter_chat_room("room_1")
        self._open_new_window()
        self._enter_chat_room("room_1")

        self._switch_to_window(0)
        self._post_message("hello")
        self._wait_until_log_contains("hello", "Message was not received by window 1 from window 1")
        self._switch_to_window(1)
        self._wait_until_log_contains("hello", "Message was not received by window 2 from window 1")
        # The server wrote the sender's name beside the message.
        self.assertIn("alice: hello\n", self._chat_log_value)

        self._close_all_new_windows()

    def test_when_chat_message_posted_then_not_seen_by_anyone_in_different_room(self):
        self._enter_chat_room("room_1")
        self._open_new_window()
        self._enter_chat_room("room_2")

        self._switch_to_window(0)
        self._post_message("hello")
        self._wait_until_log_contains("hello", "Message was not received by window 1 from window 1")

        self._switch_to_window(1)
        self._post_message("world")
        self._wait_until_log_contains("world", "Message was not received by window 2 from window 2")
        self.assertNotIn(
            "hello",
            self._chat_log_value,
            "Message was improperly received by window 2 from window 1",
        )

        self._close_all_new_windows()

    def test_a_reload_shows_the_log_each_line_once(self):
        self._enter_chat_room("room_1")
        self._post_message("hello")
        self._post_message("world")
        self._wait_until_log_contains("alice: world", "Message was not received")

        self.driver.refresh()
        self._wait_until_log_contains("alice: world", "The reloaded page did not show the history")
        self.assertEqual(self._chat_log_lines, ["alice: hello", "alice: world"])

    def test_a_reconnect_shows_no_line_twice(self):
        self._enter_chat_room("room_1")
        self._post_message("hello")
        self._wait_until_log_contains("alice: hello", "Message was not received")

        # Close the page's socket, as a network hiccup would: the page opens a
        # new one, and the server sends the history again.
        self.driver.execute_script(f"{ROOM_SOCKETS}[0].close();")
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: self.driver.execute_script(
                f"const sockets = {ROOM_SOCKETS};"
                "return sockets.length === 2 && sockets[1].readyState === WebSocket.OPEN;"
            ),
            "The page did not reconnect",
        )
        self._post_message("again")
        self._wait_until_log_contains("alice: again", "Message was not received after reconnecting")
        self.assertEqual(self._chat_log_lines, ["alice: hello", "alice: again"])

    # === Utility ===

    def _log_in(self, username, password):
        self.driver.get(self.live_server_url + "/accounts/login/")
        self.driver.find_element(By.ID, "id_username").send_keys(username)
        self.driver.find_element(By.ID, "id_password").send_keys(password + Keys.ENTER)
        # After logging in, LOGIN_REDIRECT_URL leads to the room list.
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: self.driver.current_url == self.live_server_url + "/chat/",
            "the login form did not lead to /chat/",
        )

    def _enter_chat_room(self, room_name):
        self.driver.get(self.live_server_url + "/chat/")
        room_input = self.driver.find_element(By.ID, "room-name-input")
        room_input.send_keys(room_name + Keys.ENTER)
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: room_name in self.driver.current_url
        )
        # Wait for the socket: a message typed before it is open would be lost.
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: "Connected" in self.driver.find_element(By.ID, "connection-status").text
        )

    def _open_new_window(self):
        self.driver.execute_script('window.open("about:blank", "_blank");')
        self._switch_to_window(-1)

    def _close_all_new_windows(self):
        while len(self.driver.window_handles) > 1:
            self._switch_to_window(-1)
            self.driver.execute_script("window.close();")
        if len(self.driver.window_handles) == 1:
            self._switch_to_window(0)

    def _switch_to_window(self, window_index):
        self.driver.switch_to.window(self.driver.window_handles[window_index])

    def _post_message(self, message):
        message_input = self.driver.find_element(By.ID, "chat-message-input")
        message_input.send_keys(message + Keys.ENTER)

    def _wait_until_log_contains(self, text, failure_message):
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: text in self._chat_log_value, failure_message
        )

    @property
    def _chat_log_value(self):
        return self.driver.find_element(By.ID, "chat-log").get_property("value")

    @property
    def _chat_log_lines(self):
        """The log's lines without their times: "14:05 alice: hi" is "alice: hi"."""
        return [line.split(" ", 1)[1] for line in self._chat_log_value.splitlines()]
