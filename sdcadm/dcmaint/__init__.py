"""DC maintenance: cloudapi and docker read-only, a message and an ETA for their users.

`rules` decides (pure: what `status` shows, what `start` and `stop` change); `effects`
reads the datacenter and applies a decision (SAPI, config-agent refreshes over SSH, the
start-time file, the wait for Workflow to drain).
"""
