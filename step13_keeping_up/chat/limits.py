"""How fast one user may send: a token bucket.

A bucket holds up to CHAT_MESSAGE_BURST tokens and gains CHAT_MESSAGES_PER_SECOND
tokens a second; each message takes one. A person typing never empties it. A script
sending in a loop does, and from then on gets one message through per token earned.
"""

import time
import weakref

from django.conf import settings


class TokenBucket:
    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, time.monotonic()

    def take(self):
        """Take a token: 0 if there was one, else the seconds until there is one."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return (1 - self.tokens) / self.rate


# One bucket per user, shared by all of the user's sockets in this server process:
# twenty open pages do not send twenty times as fast. It goes when the last closes.
buckets = weakref.WeakValueDictionary()


def bucket_for(user):
    rate, burst = settings.CHAT_MESSAGES_PER_SECOND, settings.CHAT_MESSAGE_BURST
    return buckets.setdefault(user.pk, TokenBucket(rate, burst))
