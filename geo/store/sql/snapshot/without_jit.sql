-- No JIT compilation for the rest of this transaction: the packed block reads look costly to
-- the planner (millions of rows aggregated), and compiling them took longer than running them.
SELECT set_config('jit', 'off', true)
