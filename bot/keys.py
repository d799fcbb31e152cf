"""The encryption keys of a deployment, from its settings."""

from __future__ import annotations

from config.settings import Settings, SettingsError
from models.crypto import KeyError_, KeyRing, new_data_key, new_index_key, write_key_file


def load_keyring(settings: Settings) -> KeyRing:
    """Build the encryption keys from settings, creating a development key file if needed."""
    try:
        if settings.encryption_keys is not None:
            if settings.index_key is None:
                raise SettingsError("KEYWORKER_INDEX_KEY: must be set with KEYWORKER_ENCRYPTION_KEYS")
            keys = [k for k in settings.encryption_keys.get_secret_value().split(",") if k.strip()]
            return KeyRing(keys, settings.index_key.get_secret_value())
        path = settings.encryption_key_file or settings.data_dir / "encryption.keys"
        if not path.exists():
            if settings.environment == "production" or settings.encryption_key_file is not None:
                raise SettingsError(
                    f"KEYWORKER_ENCRYPTION_KEYS: no encryption key (set it, or KEYWORKER_ENCRYPTION_KEY_FILE; {path} does not exist)"
                )
            write_key_file(path, [new_data_key()], new_index_key())
        return KeyRing.from_file(path)
    except KeyError_ as exc:
        raise SettingsError(str(exc)) from None
