"""The command line: thin commands over the workflow, one way out for errors."""
