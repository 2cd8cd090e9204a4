"""Access control: who may call which operation (deny by default)."""
