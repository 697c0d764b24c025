"""The delivery promise: the pure calculator, the answer the storefront shows, the promise each order was
made under, and whether it was kept."""
