FROM python:3.11-slim
WORKDIR /opt/opsim
COPY pyproject.toml README.md ./
COPY simulator simulator
COPY conformance conformance
RUN pip install --no-cache-dir .
# FTP control, admin/SOAP HTTP, and the passive data range given to `opsim up` below.
EXPOSE 2121 8080 30000-30009
VOLUME /data
# Through Docker Desktop's NAT, add --ftp-masquerade-address 127.0.0.1 so PASV replies point to the host.
CMD ["opsim", "up", "--host", "0.0.0.0", "--data-dir", "/data", "--ftp-passive-ports", "30000-30009"]
