"""Bronze: Kafka records landed in the object store, one object per partition per micro-batch."""
