"""ecglib."""
