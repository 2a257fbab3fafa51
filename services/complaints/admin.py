"""Administration from the command line, for the first administrator and the demo accounts:

    python -m services.complaints.admin create-staff USERNAME --role admin --unit hq --name "…"
        (the password is read from the STAFF_PASSWORD environment variable or asked for)
"""
from __future__ import annotations

import argparse
import getpass
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.config import get_settings
from common.db import make_engine
from services.complaints import org, staff
from services.complaints.models import Staff


def ensure_staff(session: Session, username: str, password: str, full_name: str, role: str, unit: str,
                 mobile: str | None = None, password_hash: str | None = None) -> bool:
    """Create the account unless it exists; True when it was created."""
    if session.scalars(select(Staff).where(Staff.username == username.lower())).first():
        return False
    staff.create(session, username, password, full_name, role, unit, mobile, password_hash)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-staff")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=sorted(org.ROLES))
    create.add_argument("--unit", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--mobile", help="for the SMS that tell of new cases and deadlines")
    args = parser.parse_args(argv)
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass("password: ")
    engine = make_engine(get_settings().database_url_for("complaints"))
    with Session(engine) as session, session.begin():
        created = ensure_staff(session, args.username, password, args.name, args.role, args.unit, args.mobile)
    print("created" if created else "exists already", args.username)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
