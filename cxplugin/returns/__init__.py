"""Returns: the terms before the purchase, the deadline after it, requests, and returns webhooks."""
