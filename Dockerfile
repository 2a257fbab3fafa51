# One image for every process of the platform; the command picks the process (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock && useradd --uid 10001 --no-create-home welfare \
    && mkdir -p /var/lib/welfare/files && chown 10001:10001 /var/lib/welfare/files  # evidence (a volume)
COPY common ./common
COPY services ./services
COPY gateway ./gateway
COPY fakes ./fakes
COPY contracts ./contracts
COPY scripts ./scripts
COPY web ./web
USER 10001
EXPOSE 8000
CMD ["python", "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"]
