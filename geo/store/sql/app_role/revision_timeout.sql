SET LOCAL statement_timeout = '2s'
