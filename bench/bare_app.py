"""The baseline of benchmark 1: a bare Flask endpoint that performs the same insert as the complaints
service (case, timeline step and outbox event in one transaction), with no gateway and no RPC.

    COMPLAINTS_DATABASE_URL=... gunicorn -c gateway/gunicorn.conf.py bench.bare_app:app
"""
from flask import Flask, jsonify, request
from sqlalchemy.orm import sessionmaker

from common.config import get_settings
from common.db import make_engine
from common.validation import parse
from services.complaints import cases
from services.complaints.schemas import CaseIntake

app = Flask(__name__)
Session = sessionmaker(bind=make_engine(get_settings().database_url_for("complaints")), expire_on_commit=False)


@app.post("/api/v1/cases")
def register():
    intake = parse(CaseIntake, request.get_json())
    with Session() as session, session.begin():
        view = cases.public_view(cases.register(session, intake))
    return jsonify(view), 201
