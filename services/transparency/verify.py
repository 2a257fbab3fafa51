"""Check every published version: `python -m services.transparency.verify` (the service's database) or
`python -m services.transparency.verify --api http://localhost:8000` (as anyone can: over the public API,
with the published public key). Exit status 1 and one line per break when a version was altered,
removed or wrongly signed; 0 when every chain is intact."""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Iterable

from services.transparency import signing


def verify_database(url: str, public_key_b64: str, check_rows: bool = True) -> list[str]:
    from sqlalchemy.orm import Session

    from common.db import make_engine
    from services.transparency import dataset_versions
    from services.transparency.catalog import CATALOG

    problems: list[str] = []
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with Session(engine) as session, session.begin():
        for slug in CATALOG:
            versions = [dataset_versions.record_view(v) for v in dataset_versions.versions_of(session, slug)]
            hashes = ({v["version"]: signing.content_sha256(dataset_versions.stored_rows(session, slug, v["version"]))
                       for v in versions} if check_rows else None)
            problems += signing.verify_chain(slug, versions, public_key_b64, hashes)
    engine.dispose()
    return problems


def verify_api(base: str, public_key_b64: str | None = None, check_rows: bool = True) -> list[str]:
    """Over the public API only: the versions of every dataset, and each version's rows from its JSON download."""
    import requests

    api = base.rstrip("/") + "/api/v1/transparency"
    key = public_key_b64 or requests.get(f"{api}/public-key", timeout=30).json()["public_key"]
    problems: list[str] = []
    for item in requests.get(f"{api}/datasets", timeout=30).json()["items"]:
        slug = item["slug"]
        versions = requests.get(f"{api}/datasets/{slug}", timeout=30).json()["versions"]
        hashes = None
        if check_rows:
            hashes = {}
            for record in versions:
                with requests.get(f"{api}/datasets/{slug}/download.json", params={"version": record["version"]},
                                  timeout=120, stream=True) as response:
                    hashes[record["version"]] = _rows_hash(json.loads(response.content)["rows"])
        problems += signing.verify_chain(slug, versions, key, hashes)
    return problems


def _rows_hash(rows: Iterable[dict]) -> str:
    sha = hashlib.sha256()
    for row in rows:
        sha.update(signing.canonical(row) + b"\n")
    return sha.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="the gateway's base URL: verify over the public API")
    parser.add_argument("--database-url", help="the transparency database (default: from the environment)")
    parser.add_argument("--public-key", help="base64 Ed25519 public key (default: the service's / the API's)")
    parser.add_argument("--records-only", action="store_true", help="check the chain and signatures, not the rows")
    args = parser.parse_args(argv)
    if args.api:
        problems = verify_api(args.api, args.public_key, not args.records_only)
    else:
        from common.config import get_settings

        settings = get_settings()
        key = args.public_key or signing.load_signer(
            settings.transparency_signing_key, settings.data_dir / "transparency-ed25519.key").public_key_b64()
        problems = verify_database(args.database_url or settings.database_url_for("transparency"), key,
                                   not args.records_only)
    for problem in problems:
        print(problem)
    print("intact" if not problems else f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
