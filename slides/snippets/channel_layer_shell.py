# In the step folder, with Redis running: python manage.py shell
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

layer = get_channel_layer()

# A channel is a mailbox: send a message to one, then take it out.
async_to_sync(layer.send)("test-channel", {"type": "hello"})
print(async_to_sync(layer.receive)("test-channel"))  # {'type': 'hello'}

# A group is a set of channels: this reaches every browser in room "lobby".
async_to_sync(layer.group_send)(
    "chat_lobby", {"type": "chat.message", "message": "Hello from the shell"}
)
