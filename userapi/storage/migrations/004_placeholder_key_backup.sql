-- Placeholder for the key-backup migration (branch e2ee-backup), so that
-- 006 applies on this branch (gaps are an error). Delete this file when
-- merging that branch, whose 004 replaces it.
SELECT 1;
