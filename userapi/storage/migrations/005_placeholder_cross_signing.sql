-- Placeholder for the cross-signing migration (branch e2ee-xsign), so that
-- 006 applies on this branch (gaps are an error). Delete this file when
-- merging that branch, whose 005 replaces it.
SELECT 1;
