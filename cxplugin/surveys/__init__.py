"""Post-delivery surveys: when to ask (pure rules), scheduling, the signed links, sending once, the answers,
the merchant's alerts, and the shopper's pages."""
