"""What both upstream clients share: one HTTP session factory, typed errors, a secret wrapper."""
