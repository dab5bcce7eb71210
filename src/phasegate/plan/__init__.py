"""Plan files: the model, the loader with located errors, inputs, and the JSON Schema."""
