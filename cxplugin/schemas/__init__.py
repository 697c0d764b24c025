"""marshmallow schemas: what comes in (webhook payloads) and what goes out (admin API)."""
