from __future__ import annotations

from nameko.extensions import DependencyProvider

from common.config import get_settings
from services.transparency.signing import load_signer


class SignerDependency(DependencyProvider):
    """The organization's Ed25519 key that signs every published version (services/transparency/signing.py)."""

    def setup(self):
        settings = get_settings()
        self.signer = load_signer(settings.transparency_signing_key, settings.data_dir / "transparency-ed25519.key")

    def get_dependency(self, worker_ctx):
        return self.signer
