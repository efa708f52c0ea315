"""Deployment settings, read from the environment (``SAFER_*``) with safe defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """How a Safer Together server runs. Every field can be set as ``SAFER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SAFER_")

    db: Path | str = Field(Path("safer.duckdb"), description="Warehouse file (DuckDB), or a postgresql:// URL.")
    host: str = Field("127.0.0.1", description="Address to serve on; loopback unless you mean to publish.")
    port: int = Field(8000, ge=1, le=65535, description="Port to serve on.")
    tile_url: str | None = Field(
        None, description="Optional raster tile URL template for the map's background (needs internet)."
    )
    cors_origins: list[str] = Field(["*"], description="Origins allowed to call the APIs from a browser.")
    warm_cache: int = Field(
        0, ge=0, description="After start, compute the default view of up to this many areas (0: none)."
    )
    person_data: bool = Field(
        False, description="Serve the signed-in person-data API (/api/people): opens the warehouse for writing, "
        "as every read is audited first (on DuckDB one server process only).")
    disclosure_policy: str | None = Field(
        None, description="Disclosure policy for public answers: a YAML file or a packaged policy's name "
        "(police-uk-as-published, suppress-small-cells, round-to-5, dp-laplace); default police-uk-as-published.")
    exact_figures_roles: list[str] = Field(
        ["analyst"], description="Roles of signed-in users who see figures as counted rather than under the "
        "public disclosure policy (JSON list, e.g. [\"analyst\", \"dpo\"]).")
    alerts_secret: SecretStr | None = Field(
        None, description="Secret that signs alert links and encrypts subscribers' addresses (32+ characters); "
        "alerts are off without it.", min_length=32)
    alerts_db: Path | str | None = Field(
        None, description="Alert subscriptions and outbox (personal data, kept apart from the warehouse's "
        "tables): a SQLite file (owner-only), or a postgresql:// URL (schema safer_alerts) [default: the "
        "warehouse's own database when it is PostgreSQL, else safer-alerts.sqlite].")
    public_url: str = Field("http://127.0.0.1:8000", description="Where residents reach this server (for links "
                            "in e-mails and feeds).")
    alerts_sender: str = Field("Safer Together <alerts@localhost>", description="From address of alert e-mails.")
    smtp: str | None = Field(None, description="SMTP server HOST:PORT for alert e-mails.")
    rate_limit_per_second: float | None = Field(
        None, description="Per-client request limit for public deployments; unlimited when unset."
    )

    def alerts_location(self, db: Path | str | None = None) -> Path | str:
        """Where alerts live for a warehouse at ``db`` (default: this server's): see ``alerts_db``."""
        if self.alerts_db is not None:
            return self.alerts_db
        warehouse = str(db or self.db)
        return warehouse if warehouse.startswith(("postgresql://", "postgres://")) else Path("safer-alerts.sqlite")
