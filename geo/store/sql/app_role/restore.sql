SELECT set_config('role', :role, true), set_config('statement_timeout', :t, true)
