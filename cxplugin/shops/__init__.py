"""Shops: install and uninstall, their versioned settings, and the copy the hot paths hold in process."""
