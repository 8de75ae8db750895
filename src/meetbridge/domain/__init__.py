"""Pure rules and data of meetbridge: no I/O, no awaits, no framework imports."""
