"""Static files: hashed names, compressed copies, no third-party source maps.

Source maps of vendored bundles (about 14 MB), ReDoc (we serve Swagger UI) and
DRF's browsable-API assets are not collected; `sourceMappingURL` comments are
left as they are, so a browser's devtools simply find no map.

Our own ES modules (``js/*.js``) import each other by relative URL; those
imports are rewritten to the hashed names, so a page never mixes a new module
with a stale cached one. Vendored bundles under ``vendor/`` are left as built.
"""

import os

import brotli
from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig
from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Files at least this big get Brotli quality 9 instead of 11: for the vendored bundles
# (WalletConnect ~2 MB, Swagger UI ~1.5 MB) that is ~25x faster for ~10% more bytes, and
# collectstatic runs at the start of every test session.
LARGE_FILE_BYTES = 512 * 1024


class StaticFilesConfig(BaseStaticFilesConfig):
    # DRF's browsable-API assets are unused: the API renders JSON only.
    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "*.map", "redoc", "rest_framework"]


def _without_source_maps(patterns):
    def keep(entry) -> bool:
        pattern = entry[0] if isinstance(entry, tuple) else entry
        return "sourceMappingURL" not in pattern

    return tuple((ext, tuple(p for p in entries if keep(p))) for ext, entries in patterns)


# Django's own `import ... from "./x.js";` / `export ... from "./x.js";` patterns, applied to
# our modules only: on minified third-party bundles they could match inside strings.
_OWN_MODULE_IMPORTS = (
    "js/*.js",
    HashedFilesMixin._js_module_import_aggregation_patterns[1],  # type: ignore[attr-defined]
)


class _Compressor(Compressor):
    def compress(self, path: str) -> list[str]:
        # A repeated collect (each `make prod-reload` release) finds most files unchanged.
        # A compressed copy carrying its file's mtime was made from that very file
        # (`write_data` copies the mtime; a changed file is copied anew, with a new one).
        mtime = os.stat(path).st_mtime
        made = [
            path + suffix
            for suffix in (".br", ".gz")
            if os.path.exists(path + suffix) and os.stat(path + suffix).st_mtime == mtime
        ]
        return made or super().compress(path)

    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        return brotli.compress(data, quality=11 if len(data) < LARGE_FILE_BYTES else 9)


class StaticStorage(CompressedManifestStaticFilesStorage):
    patterns = (*_without_source_maps(HashedFilesMixin.patterns), _OWN_MODULE_IMPORTS)

    def create_compressor(self, **kwargs):
        return _Compressor(**kwargs)
