"""Account settings: name, e-mail address, password, second factor and recovery codes."""
