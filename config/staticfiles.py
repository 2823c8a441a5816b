"""The static files storage of the demo and of production: hashed names, gzip copies.

WhiteNoise's storage writes, at `collectstatic`, each file under a name carrying its
content's hash (served with a year's `Cache-Control: immutable`) beside a compressed copy
of each. Django's manifest storage links the plain names whenever DEBUG is on, so the demo
(which runs in debug) would link files that are neither hashed nor compressed: this one
links the hashed names in debug too, and the demo serves what production serves.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def url(self, name: str, force: bool = False) -> str:
        return super().url(name, force=True)
