-- The models read the object registry (lakehouse_state.lake_objects, model_inputs: migration 0006) instead of
-- listing the lake and recording every object they consumed; the old per-object table has no reader left.
DROP TABLE IF EXISTS lakehouse_state.processed_objects;
