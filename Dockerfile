FROM python:3.11-slim
WORKDIR /opt/opsim
COPY pyproject.toml README.md ./
COPY simulator simulator
COPY conformance conformance
COPY features features
# A non-root user owns the data volume (a new named volume copies this ownership).
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /data opsim \
 && mkdir -p /data && chown opsim:opsim /data
USER opsim
ENV PYTHONUNBUFFERED=1
# FTP control, the admin API and web services (HTTP), the passive data range, the e-mail channel (SMTP) and
# HTTPS (web services with the sandbox CA under /data/tls), all given to `opsim up` below.
EXPOSE 2121 8080 30000-30009 2525 8443
VOLUME /data
# The container's own flags live in ENTRYPOINT, so that `docker run opsim --seed 7` adds a flag instead of
# replacing them (a flag given again in `docker run` wins: argparse keeps the last value).
# The admin API must be reachable through -p, so it listens on every interface and therefore needs a token:
# `docker run -e OPSIM_ADMIN_TOKEN=...`. Without one the container refuses to start, with a one-line message.
ENTRYPOINT ["opsim", "up", "--data-dir", "/data", "--host", "0.0.0.0", "--admin-host", "0.0.0.0", "--ftp-passive-ports", "30000-30009", "--smtp-port", "2525", "--https-port", "8443"]
# Optional flags only; `docker run opsim FLAGS...` replaces them. Through Docker Desktop's NAT (Mac, Windows),
# pass --ftp-masquerade-address 127.0.0.1 so that PASV replies point to the host.
CMD []
# No curl in the slim image: Python asks the admin API. OPSIM_HEALTH_URL follows a changed --http-port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; t = os.environ.get('OPSIM_ADMIN_TOKEN'); r.urlopen(r.Request(os.environ.get('OPSIM_HEALTH_URL', 'http://127.0.0.1:8080/api/health'), headers={'Authorization': 'Bearer ' + t} if t else {}), timeout=4)"]
