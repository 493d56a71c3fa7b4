-- Models find the committed files of a partition by key prefix (assets/lake_objects.py: keys_under), as a range
-- [prefix || '/', prefix || '0') in byte order. That holds only in the "C" collation: under a linguistic one (the
-- postgres image's en_US.utf8 ignores punctuation at first) '/' and '=' do not sort by their bytes, and a
-- partition's files could fall outside the range. The query compares in "C"; this index serves it whatever the
-- database's collation is.
CREATE INDEX IF NOT EXISTS lake_objects_key_c ON lakehouse_state.lake_objects ((key COLLATE "C"));
