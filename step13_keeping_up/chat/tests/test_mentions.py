"""Mentions: "@name" in a room notifies that user, through the mentions worker.

The worker runs inside the test, in the test's event loop: channels.worker.Worker
is what `manage.py runworker` runs, here on the in-memory layer.
"""

import asyncio
import contextlib

from channels.layers import get_channel_layer
from channels.worker import Worker
from django.test import TransactionTestCase, override_settings

from chat.mentions import MENTIONS_CHANNEL, find_mentions
from chatsite.asgi import application as site_application

from .test_consumers import IN_MEMORY_LAYER, join
from .test_notifications import open_notifications


@contextlib.asynccontextmanager
async def mentions_worker():
    """What `manage.py runworker mentions` runs, here in the test's event loop."""
    worker = Worker(site_application, [MENTIONS_CHANNEL], get_channel_layer())
    task = asyncio.create_task(worker.arun())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class FindMentionsTests(TransactionTestCase):
    def test_names_after_an_at_sign_each_once_in_order(self):
        self.assertEqual(find_mentions("@bob and @ann.lee, @bob!"), ["bob", "ann.lee"])

    def test_an_email_address_mentions_nobody(self):
        self.assertEqual(find_mentions("mail bob@example.org or @ alone"), [])


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class MentionTests(TransactionTestCase):
    async def test_a_mention_notifies_that_user_and_nobody_else(self):
        async with mentions_worker():
            bob = await open_notifications("bob")
            carol = await open_notifications("carol")
            alice = await join("lobby", "alice")
            await alice.send_json_to({"message": "hi @bob"})
            self.assertEqual(
                await bob.receive_json_from(timeout=5),
                {"notification": 'alice mentioned you in room "lobby": hi @bob'},
            )
            self.assertTrue(await carol.receive_nothing())
            self.assertEqual((await alice.receive_json_from())["message"], "hi @bob")
            for communicator in (alice, bob, carol):
                await communicator.disconnect()

    async def test_oneself_and_unknown_names_notify_nobody(self):
        async with mentions_worker():
            alices_page = await open_notifications("alice")
            alice = await join("lobby", "alice")
            await alice.send_json_to({"message": "@alice @nobody-here"})
            await alice.receive_json_from()  # the message itself
            self.assertTrue(await alices_page.receive_nothing(timeout=1))
            await alice.disconnect()
            await alices_page.disconnect()

    async def test_without_a_worker_the_job_waits_in_its_channel(self):
        bob = await open_notifications("bob")
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "hi @bob"})
        await alice.receive_json_from()  # the message itself
        self.assertTrue(await bob.receive_nothing())
        # A worker that starts later finds the job, and bob is notified then.
        async with mentions_worker():
            notified = await bob.receive_json_from(timeout=5)
        self.assertEqual(notified, {"notification": 'alice mentioned you in room "lobby": hi @bob'})
        await alice.disconnect()
        await bob.disconnect()
