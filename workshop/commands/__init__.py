"""One module per command: `python -m workshop <command>` runs workshop/commands/<command>.py.

The rest of workshop/ holds the parts the commands share (the manifest, Redis, the browser, diffs).
"""
