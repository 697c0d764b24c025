"""The merchant's embedded pages (App Home) and the JSON API behind them."""
