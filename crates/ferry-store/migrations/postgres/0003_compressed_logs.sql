-- Log chunks of some size are stored LZ4-compressed (postgres): then `body` is empty and
-- `body_lz4` holds the compressed text, prefixed with its length.
ALTER TABLE log_chunks ADD COLUMN body_lz4 BYTEA;
