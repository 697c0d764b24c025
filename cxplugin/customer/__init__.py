"""Backend of the customer account UI extension (thin views: returns)."""
