"""Static files: hashed names, compressed copies, no third-party source maps.

Source maps of vendored bundles (about 14 MB), ReDoc (we serve Swagger UI) and
DRF's browsable-API assets are not collected; `sourceMappingURL` comments are
left as they are, so a browser's devtools simply find no map.
"""

from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig
from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesConfig(BaseStaticFilesConfig):
    # DRF's browsable-API assets are unused: the API renders JSON only.
    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "*.map", "redoc", "rest_framework"]


def _without_source_maps(patterns):
    def keep(entry) -> bool:
        pattern = entry[0] if isinstance(entry, tuple) else entry
        return "sourceMappingURL" not in pattern

    return tuple((ext, tuple(p for p in entries if keep(p))) for ext, entries in patterns)


class StaticStorage(CompressedManifestStaticFilesStorage):
    patterns = _without_source_maps(HashedFilesMixin.patterns)
