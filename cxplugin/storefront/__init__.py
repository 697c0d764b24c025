"""App-proxy endpoints for the storefront (promise now; returns later). Shopify signs every request."""
