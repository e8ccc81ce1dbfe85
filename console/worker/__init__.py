"""The worker: runs sources on their intervals, classifies new mentions, sends queued replies."""
