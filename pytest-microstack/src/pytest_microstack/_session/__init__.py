"""Internal: may change in any release."""
