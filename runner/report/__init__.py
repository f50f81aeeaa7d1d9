"""Report stage: the only code that writes to the terminal. `console` and `jsonl` subscribe to a
run's events; `views` renders what the read-only commands show."""
