"""The workshop's two pages, as a browser user sees them (Selenium helpers)."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from workshop.accounts import LOGIN_PATH, Account
from workshop.step_server import StepServer

WAIT_SECONDS = 10


def wait_for(browser, condition, message: str):
    return WebDriverWait(browser, WAIT_SECONDS).until(lambda _: condition(), message)


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def on_login_page(browser, server: StepServer) -> bool:
    return browser.current_url.startswith(server.url + LOGIN_PATH)


def log_in_with_form(browser, server: StepServer, account: Account | None = None) -> None:
    """On the login page: fill in the form and submit it, as a person does."""
    account = account or server.accounts[0]
    browser.find_element(By.ID, "id_username").send_keys(account.username)
    browser.find_element(By.ID, "id_password").send_keys(account.password + Keys.ENTER)
    wait_for(
        browser,
        lambda: not on_login_page(browser, server),
        f"the login form did not log {account.username!r} in",
    )


def log_in_as(browser, server: StepServer, account: Account, path: str) -> None:
    """Open a page of the step as `account`, whoever the browser was logged in as before
    (use the any_users_browser fixture, which forgets the login afterwards)."""
    browser.get(server.url + LOGIN_PATH)
    browser.delete_all_cookies()
    browser.get(server.url + path)
    assert on_login_page(browser, server), browser.current_url
    log_in_with_form(browser, server, account)


def open_page(browser, server: StepServer, path: str) -> None:
    """Open a page of the step; on a step with users, log in first when it asks."""
    browser.get(server.url + path)
    if server.accounts and on_login_page(browser, server):
        log_in_with_form(browser, server)  # the login page then leads back to `path`


def enter_room_from_index(browser, server: StepServer, room: str) -> None:
    """Type a room name on the index page and press Enter, as a student does."""
    open_page(browser, server, "/chat/")
    browser.find_element(By.ID, "room-name-input").send_keys(room + Keys.ENTER)


def open_room(browser, server: StepServer, room: str) -> None:
    """Open a room page and wait until its socket is connected."""
    open_page(browser, server, f"/chat/{room}/")
    wait_for(
        browser,
        lambda: text_of(browser, "connection-status").startswith("Connected"),
        f"the room page for {room!r} never said Connected",
    )


def open_room_in_new_window(browser, server: StepServer, room: str) -> None:
    browser.switch_to.new_window("tab")
    open_room(browser, server, room)


def post_message(browser, text: str) -> None:
    browser.find_element(By.ID, "chat-message-input").send_keys(text + Keys.ENTER)


def chat_log(browser) -> str:
    return browser.find_element(By.ID, "chat-log").get_property("value")


def chat_log_lines_without_times(browser) -> list[str]:
    """The log's lines from step 08 on, without their times: "14:05 alice: hi" is "alice: hi"."""
    return [line.split(" ", 1)[1] for line in chat_log(browser).splitlines()]


def wait_until_log_contains(browser, text: str) -> None:
    wait_for(browser, lambda: text in chat_log(browser), f"{text!r} never reached the chat log")
