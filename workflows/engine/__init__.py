"""SpiffWorkflow glue: restricted scripts, spec deployment and storage, instance serialization."""
