"""Everything that talks to Shopify: request verification, token exchange, the GraphQL Admin API."""
