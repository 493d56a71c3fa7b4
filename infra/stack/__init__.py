"""The `lakehouse` local stack: real services started as local processes."""
