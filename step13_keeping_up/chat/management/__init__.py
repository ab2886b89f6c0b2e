"""The chat app's management commands live in commands/."""
