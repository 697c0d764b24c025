"""The local demo: a seeded shop with ninety days of activity played through the app's own paths, a login that
works without Shopify, and pages that show what shoppers see. On only with CX_DEMO=1, and only from this machine."""

DEMO_SHOP = "cx-demo.myshopify.com"
