-- The app's role (geo.store.app_role.APP_ROLE) for the rest of the transaction.
SET LOCAL ROLE gilmok_app
