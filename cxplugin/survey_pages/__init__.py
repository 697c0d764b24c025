"""The shopper's survey pages (one click from the e-mail) and the unsubscribe page."""
