"""What runs inside a slot's sandbox: the supervisor and its Landlock binding (standard library only)."""
