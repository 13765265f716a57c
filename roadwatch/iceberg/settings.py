"""Where the Iceberg tables live (`ROADWATCH_CATALOG_*`): SQLite SqlCatalog + local files by default, or a
REST catalog on S3-compatible storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from roadwatch.errors import ConfigError
from roadwatch.settings import DEFAULT_HOME, ComponentSettings


class CatalogSettings(ComponentSettings):
    """Where the Iceberg tables live: SQLite SqlCatalog + local files (default) or a REST catalog + S3."""

    section: ClassVar[str] = "catalog"
    model_config = SettingsConfigDict(env_prefix="ROADWATCH_CATALOG_", frozen=True, extra="forbid")

    type: Literal["sql", "rest"] = "sql"
    name: str = "roadwatch"
    uri: str | None = None
    warehouse: str = str(DEFAULT_HOME / "warehouse")
    namespace: str = "roadwatch"
    s3_endpoint: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    def properties(self) -> dict[str, Any]:
        """pyiceberg `load_catalog` properties. For the SQL catalog the warehouse directory is created; a
        ConfigError naming ROADWATCH_CATALOG_WAREHOUSE says why it cannot be (a file there, no permission)."""
        if self.type == "sql":
            try:
                Path(self.warehouse).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                why = "it is a file" if Path(self.warehouse).is_file() else (exc.strerror or str(exc))
                raise ConfigError(
                    f"ROADWATCH_CATALOG_WAREHOUSE: {self.warehouse} cannot be the warehouse directory: {why}"
                ) from exc
            uri = self.uri or f"sqlite:///{Path(self.warehouse) / 'catalog.db'}"
            return {"type": "sql", "uri": uri, "warehouse": f"file://{Path(self.warehouse).resolve()}"}
        props: dict[str, Any] = {
            "type": "rest",
            "uri": self.uri or "http://iceberg-rest:8181",
            "warehouse": self.warehouse,
            "s3.region": self.s3_region,
        }
        if self.s3_endpoint:
            props["s3.endpoint"] = self.s3_endpoint
        if self.s3_access_key_id:
            props["s3.access-key-id"] = self.s3_access_key_id
        if self.s3_secret_access_key:
            props["s3.secret-access-key"] = self.s3_secret_access_key.get_secret_value()
        return props
