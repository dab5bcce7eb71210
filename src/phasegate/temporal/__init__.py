"""The Temporal engine (``pip install 'phasegate[temporal]'``): one workflow per run that
interprets the plan as data, each stage step one activity calling the local engine's own
step functions. The core never imports this package."""
