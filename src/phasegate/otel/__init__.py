"""OpenTelemetry traces of runs (extra ``otel``), off unless PHASEGATE_OTLP_ENDPOINT or
``--otlp`` names a collector. The core never imports this package: a run's trace is read
from the evidence store, the run's journal, once the command has recorded it."""
