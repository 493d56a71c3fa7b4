"""One module per service of the local stack."""
