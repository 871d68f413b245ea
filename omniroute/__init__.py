"""OmniRoute."""
