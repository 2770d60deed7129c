"""What each long-running command runs: the parts of a service put together in one
process, with its signals, metrics port and shutdown. Above the features it composes,
below the command line."""
