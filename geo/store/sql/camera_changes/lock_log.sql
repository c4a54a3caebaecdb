-- Writers of camera changes take turns (until commit): change ids then become visible in the
-- order they were drawn, so a reader that saw change n has seen every change before it.
SELECT pg_advisory_xact_lock(7244190615)
