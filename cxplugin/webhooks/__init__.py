"""Webhook intake (verify → record → enqueue → 200) and the per-topic handlers run by the worker."""
