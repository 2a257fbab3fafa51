# The platform's images. `base` holds what every process shares (the locked requirements, `common/`, the contracts);
# each service's target adds its own package and nothing else (tests/integration/test_service_images.py starts
# each exactly so); `platform`, the default (last) target, holds every process for the local demo, compose and
# the overlays: the gateway (it imports each service's api.py), the relay, the migrations job and the fakes.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock && useradd --uid 10001 --no-create-home welfare \
    && mkdir -p /var/lib/welfare/files && chown 10001:10001 /var/lib/welfare/files  # evidence (a volume)
COPY common ./common
COPY contracts ./contracts
COPY services/__init__.py ./services/__init__.py
USER 10001

FROM base AS complaints
COPY services/complaints ./services/complaints
CMD ["python", "-m", "common.run", "complaints"]

FROM base AS notifications
COPY services/notifications ./services/notifications
CMD ["python", "-m", "common.run", "notifications"]

FROM base AS payments
COPY services/payments ./services/payments
CMD ["python", "-m", "common.run", "payments"]

FROM base AS transparency
COPY services/transparency ./services/transparency
CMD ["python", "-m", "common.run", "transparency"]

FROM base AS platform
COPY services ./services
COPY gateway ./gateway
COPY fakes ./fakes
COPY scripts ./scripts
COPY web ./web
EXPOSE 8000
CMD ["python", "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"]
