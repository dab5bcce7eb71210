"""The parameters every registry probe shares: where the registry is and how to get in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from phasegate import fields, probe_input, secrets


class RegistryAccess(probe_input.ProbeParams):
    ca: str | None = Field(None, description="CA bundle (PEM) trusted besides the system store")
    insecure: bool = Field(False, description="skip TLS verification (recorded as a finding)")
    plain_http: bool = Field(False, description="talk plain HTTP (recorded as a finding)")
    username: str | None = Field(None, description="registry user; else Docker config.json")
    password: str | None = Field(None, description="registry password or token (a secret)")
    auth_file: str | None = Field(
        None, description="Docker config.json to read (default $DOCKER_CONFIG or ~/.docker)"
    )
    timeout: fields.Seconds = Field(10.0, description="seconds for each request")

    @field_validator("password")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        secrets.register(value)
        return value

    def paths(self, base_dir: Path) -> tuple[Path | None, Path | None]:
        """The CA bundle and auth file, resolved against the plan's directory."""
        ca = base_dir / self.ca if self.ca else None
        auth_file = base_dir / self.auth_file if self.auth_file else None
        return ca, auth_file

    def findings(self) -> list[str]:
        """Choices that weaken the check; an observation must say it was made with them."""
        found = []
        if self.insecure:
            found.append("TLS verification disabled (insecure: true)")
        if self.plain_http:
            found.append("plain HTTP, no TLS (plain_http: true)")
        return found
