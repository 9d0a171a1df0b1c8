"""Custom actions of the hotline assistant; HTTP calls to the app live in `app_client`."""
