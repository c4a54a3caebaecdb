SELECT current_user, current_setting('statement_timeout')
